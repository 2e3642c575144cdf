/**
 * Timer sources behind one interface: something with a next deadline (monotonic ns) that must
 * be serviced when it passes. Each vCPU thread services its own Local APIC timer; the platform
 * timer thread (platform-timers.ts) services the HPET (and the PIT), so that no platform timer
 * depends on one vCPU's thread being able to run.
 */
export interface TimerSource {
  /** When it next needs servicing (monotonic ns), or Infinity. */
  nextDeadline(): number;
  /** Fires what is due by `now`. */
  service(now: number): void;
}

/** Several sources as one: the earliest deadline, and every due source serviced. */
export class TimerSources implements TimerSource {
  constructor(private readonly sources: readonly TimerSource[]) {}

  nextDeadline(): number {
    let earliest = Infinity;
    for (const source of this.sources) {
      const deadline = source.nextDeadline();
      if (deadline < earliest) earliest = deadline;
    }
    return earliest;
  }

  service(now: number): void {
    for (const source of this.sources) if (source.nextDeadline() <= now) source.service(now);
  }
}
