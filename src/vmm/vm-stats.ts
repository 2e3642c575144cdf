/**
 * Statistics every vCPU thread keeps while it runs, in shared memory so the main thread can
 * read them at any time: exits by reason, and accesses per device (reads and writes), each
 * with the time spent handling them when timing is on (tsvisor run --stats). Counting is a
 * typed-array increment on the exit path; timing costs two clock reads, so it is optional.
 */
import type { BusCounters } from '../devices/bus.js';
import { HPET_TIMER_COUNT, hpetPeriodsCoalesced } from '../devices/hpet.js';
import { pitCoalescedPeriods } from '../devices/pit8254.js';
import type { LocalApicStates } from '../devices/local-apic-state.js';
import type { SharedState } from '../devices/shared-state.js';
import * as kvm from '../kvm/index.js';

/** Exit reasons below this are counted each in its own slot; KVM's are all below 64. */
export const EXIT_REASON_SLOTS = 64;

export interface VmStats {
  readonly exits: readonly { readonly vcpu: number; readonly reason: string; readonly count: number; readonly milliseconds: number }[];
  readonly devices: readonly { readonly device: string; readonly reads: number; readonly writes: number; readonly milliseconds: number }[];
  readonly interrupts: InterruptStats;
  /** HLTs completed for an interrupt window the host CPU opened inside STI's shadow (kvm.dropsStiShadowOnEntry). */
  readonly stiShadowHalts: number;
  /** Whether the times were measured (tsvisor run --stats). */
  readonly timed: boolean;
}

/**
 * Interrupts that did not each reach the guest, none of them lost without a count: a request
 * that found its vector already pending in IRR (SDM 10.8.4: one request per vector), the
 * periods of a periodic timer serviced late, which fire once, and messages no Local APIC
 * accepted. A guest counting timer ticks can only rely on ticks plus these.
 */
export interface InterruptStats {
  /** By vCPU and vector, only those with a count. */
  readonly coalesced: readonly { readonly vcpu: number; readonly vector: number; readonly count: number }[];
  /** HPET periods that coalesced into one interrupt, by timer, only those with a count. */
  readonly hpetPeriodsCoalesced: readonly { readonly timer: number; readonly count: number }[];
  /** PIT channel 0 periods that coalesced into one interrupt. */
  readonly pitPeriodsCoalesced: number;
  /**
   * Messages on the APIC bus, from the IO APIC or an ICR, that no Local APIC accepted: none
   * addressed, or those addressed software- or globally disabled. An edge interrupt among them
   * is lost, as on hardware; a level one is sent again once an APIC can take it.
   */
  readonly undelivered: number;
}

export function readInterruptStats(
  localApics: LocalApicStates,
  timers: { readonly hpet: SharedState | undefined; readonly pit: SharedState | undefined },
): InterruptStats {
  const coalesced: { vcpu: number; vector: number; count: number }[] = [];
  for (let vcpu = 0; vcpu < localApics.vcpuCount; vcpu++) {
    for (let vector = 0; vector < 256; vector++) {
      const count = localApics.coalescedCount(vcpu, vector);
      if (count > 0) coalesced.push({ vcpu, vector, count });
    }
  }
  const hpet: { timer: number; count: number }[] = [];
  for (let timer = 0; timers.hpet && timer < HPET_TIMER_COUNT; timer++) {
    const count = hpetPeriodsCoalesced(timers.hpet, timer);
    if (count > 0) hpet.push({ timer, count });
  }
  const pitPeriodsCoalesced = timers.pit ? pitCoalescedPeriods(timers.pit) : 0;
  return { coalesced, hpetPeriodsCoalesced: hpet, pitPeriodsCoalesced, undelivered: localApics.undeliveredCount() };
}

export interface StatsLayout {
  readonly vcpuCount: number;
  readonly ioSlots: number;
  readonly mmioSlots: number;
}

export class StatsBuffer {
  private readonly perVcpu: number;

  constructor(
    readonly layout: StatsLayout,
    readonly timed: boolean,
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(layout.vcpuCount * StatsBuffer.doublesPerVcpu(layout) * 8),
  ) {
    this.perVcpu = StatsBuffer.doublesPerVcpu(layout);
  }

  private static doublesPerVcpu(layout: StatsLayout): number {
    return 2 * EXIT_REASON_SLOTS + 3 * (layout.ioSlots + layout.mmioSlots) + 1;
  }

  /** Counts, then nanoseconds, by exit reason. */
  exitCounters(vcpu: number): { readonly counts: Float64Array; readonly nanos: Float64Array } {
    const base = vcpu * this.perVcpu;
    return { counts: this.view(base, EXIT_REASON_SLOTS), nanos: this.view(base + EXIT_REASON_SLOTS, EXIT_REASON_SLOTS) };
  }

  busCounters(vcpu: number, bus: 'io' | 'mmio'): BusCounters {
    const { ioSlots, mmioSlots } = this.layout;
    const slots = bus === 'io' ? ioSlots : mmioSlots;
    let base = vcpu * this.perVcpu + 2 * EXIT_REASON_SLOTS + (bus === 'io' ? 0 : 3 * ioSlots);
    const next = () => {
      const view = this.view(base, slots);
      base += slots;
      return view;
    };
    return { reads: next(), writes: next(), nanos: next(), timed: this.timed };
  }

  /** One counter: HLTs this vCPU's exit handler completed inside STI's shadow. */
  stiShadowHalts(vcpu: number): Float64Array {
    return this.view((vcpu + 1) * this.perVcpu - 1, 1);
  }

  /** Sums over every vCPU: exits by vCPU and reason, accesses by device; with the interrupt statistics kept elsewhere. */
  read(slotNames: { readonly io: readonly string[]; readonly mmio: readonly string[] }, interrupts: InterruptStats): VmStats {
    const exits: { vcpu: number; reason: string; count: number; milliseconds: number }[] = [];
    for (let vcpu = 0; vcpu < this.layout.vcpuCount; vcpu++) {
      const { counts, nanos } = this.exitCounters(vcpu);
      counts.forEach((count, reason) => {
        if (count > 0) {
          exits.push({ vcpu, reason: kvm.EXIT_REASON_NAMES[reason] ?? `exit reason ${reason}`, count, milliseconds: (nanos[reason] as number) / 1e6 });
        }
      });
    }
    const devices: { device: string; reads: number; writes: number; milliseconds: number }[] = [];
    for (const bus of ['io', 'mmio'] as const) {
      slotNames[bus].forEach((device, slot) => {
        const total = { device, reads: 0, writes: 0, milliseconds: 0 };
        for (let vcpu = 0; vcpu < this.layout.vcpuCount; vcpu++) {
          const counters = this.busCounters(vcpu, bus);
          total.reads += counters.reads[slot] as number;
          total.writes += counters.writes[slot] as number;
          total.milliseconds += (counters.nanos[slot] as number) / 1e6;
        }
        if (total.reads + total.writes > 0) devices.push(total);
      });
    }
    let stiShadowHalts = 0;
    for (let vcpu = 0; vcpu < this.layout.vcpuCount; vcpu++) stiShadowHalts += this.stiShadowHalts(vcpu)[0] as number;
    return { exits, devices, interrupts, stiShadowHalts, timed: this.timed };
  }

  private view(doubleOffset: number, length: number): Float64Array {
    return new Float64Array(this.buffer, doubleOffset * 8, length);
  }
}
