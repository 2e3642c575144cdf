/**
 * The one clock every thread and every host timer shares: CLOCK_MONOTONIC (what
 * process.hrtime reads on Linux, and what the shim's per-thread timers are set against), as
 * a Number of nanoseconds. A Number holds it exactly for the first 104 days of host uptime
 * (2^53 ns) and to within a few nanoseconds after, which no guest timer can notice.
 */
export function monotonicNanos(): number {
  const [seconds, nanoseconds] = process.hrtime();
  return seconds * 1e9 + nanoseconds;
}
