/** IA32_TSC_DEADLINE to a host time (SDM vol. 3A, 10.5.4.1): unsigned, "never" beyond what the host timer can arm. */
import { describe, expect, it } from 'vitest';
import { HOST_TIMER_LIMIT_NS, tscDeadlineToHostNanos } from '../../../src/vmm/vcpu/tsc-deadline.js';

const TSC_KHZ = 2_000_000; // 2 GHz: two cycles a nanosecond
const NOW_NS = 5_000_000_000;
const TSC_NOW = 10_000_000_000n;

describe('tscDeadlineToHostNanos', () => {
  it('fires at once for a deadline already reached: 0 cycles ago, 1, and the TSC itself', () => {
    expect(tscDeadlineToHostNanos(TSC_NOW, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS);
    expect(tscDeadlineToHostNanos(TSC_NOW - 1n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS);
  });

  it('fires one cycle later, rounded up to a whole nanosecond (late, never early)', () => {
    expect(tscDeadlineToHostNanos(TSC_NOW + 1n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS + 1);
    expect(tscDeadlineToHostNanos(TSC_NOW + 2_000n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS + 1_000);
  });

  it('treats 0 as the smallest deadline, past for any running TSC (the caller disarms on 0 before asking)', () => {
    expect(tscDeadlineToHostNanos(0n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS);
  });

  it('compares unsigned: 2^63 and 2^64 - 1 are far in the future, not in the past', () => {
    // 2^63 cycles at 2 GHz: 146 years, within the host timer's reach.
    expect(tscDeadlineToHostNanos(2n ** 63n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(NOW_NS + Number((2n ** 63n - TSC_NOW) / 2n));
    // 2^64 - 1 cycles at 2 GHz: 292 years, beyond it: never.
    expect(tscDeadlineToHostNanos(2n ** 64n - 1n, TSC_NOW, NOW_NS, TSC_KHZ)).toBe(Infinity);
  });

  it('is never at a deadline the host timer could not arm, at any TSC rate', () => {
    expect(tscDeadlineToHostNanos(2n ** 63n, 0n, NOW_NS, 1_000)).toBe(Infinity); // 1 MHz: 2^63 µs
    expect(tscDeadlineToHostNanos(2n ** 64n - 1n, 2n ** 64n - 2n, NOW_NS, TSC_KHZ)).toBe(NOW_NS + 1);
    expect(HOST_TIMER_LIMIT_NS).toBe(2 ** 63);
  });
});
