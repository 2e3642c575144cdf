/**
 * IA32_TSC_DEADLINE (SDM vol. 3A, 10.5.4.1): the Local APIC timer fires when the TSC reaches the
 * value written, compared unsigned; 0 disarms it. tsvisor arms a host timer instead, so the
 * guest's deadline becomes a host time: its distance from the guest TSC now, at the TSC's rate.
 * A deadline already reached fires at once; one too far for the host timer to arm (CLOCK_MONOTONIC
 * counts signed 64-bit nanoseconds) never fires, as a deadline centuries away never would.
 */

/** The host timer cannot be armed at or beyond this many nanoseconds (2^63: a signed 64-bit count). */
export const HOST_TIMER_LIMIT_NS = 2 ** 63;

/**
 * The host time (monotonic ns) at which the guest TSC reaches `deadline`, given the TSC and the
 * host clock read together (the TSC first: a delay between the two reads makes the timer late,
 * never early); Infinity for "never". Not for 0, which disarms.
 */
export function tscDeadlineToHostNanos(deadline: bigint, tscNow: bigint, nowNs: number, tscKhz: number): number {
  const target = BigInt.asUintN(64, deadline);
  const now = BigInt.asUintN(64, tscNow);
  if (target <= now) return nowNs;
  // Whole nanoseconds, rounded up: cycles * 10^6 / kHz.
  const nanos = ((target - now) * 1_000_000n + BigInt(tscKhz) - 1n) / BigInt(tscKhz);
  const at = nowNs + Number(nanos);
  return at >= HOST_TIMER_LIMIT_NS ? Infinity : at;
}
