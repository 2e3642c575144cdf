/**
 * A smoke test of the interrupt benchmark: the irq-bench guest runs on two vCPUs with small
 * counts, powers off, and prints every line well-formed with plausible figures. No timing is
 * asserted (the machine is shared and noisy); only the shape of the numbers.
 */
import { describe, expect, it } from 'vitest';
import { parseIrqBenchLine, parseIrqBenchOutput, runIrqBenchGuest, type LatencyNs } from '../../src/bench/interrupt-latency.js';
import { describeKvm } from '../helpers/kvm.js';

const COUNTS = { eoiIterations: 500, selfIpiIterations: 100, timerTicks: 30, ipiSamples: 30 };

function expectDistribution(latency: LatencyNs, samples: number): void {
  expect(latency.samples).toBe(samples);
  for (const value of [latency.medianNs, latency.p99Ns, latency.minNs, latency.maxNs]) expect(Number.isSafeInteger(value)).toBe(true);
  expect(latency.minNs).toBeLessThanOrEqual(latency.medianNs);
  expect(latency.medianNs).toBeLessThanOrEqual(latency.p99Ns);
  expect(latency.p99Ns).toBeLessThanOrEqual(latency.maxNs);
  expect(latency.maxNs).toBeGreaterThan(0);
}

describe('irq-bench output parsing', () => {
  it('reads key=value integers and strings, and ignores other lines', () => {
    expect(parseIrqBenchLine('irq-bench eoi iterations=10 cycles_per_op=123 tsc_khz=2400000')).toEqual({
      name: 'eoi',
      fields: { iterations: 10, cycles_per_op: 123, tsc_khz: 2400000 },
    });
    expect(parseIrqBenchLine('irq-bench timer-lateness mode=tsc-deadline min_ns=-5')?.fields).toEqual({ mode: 'tsc-deadline', min_ns: -5 });
    expect(parseIrqBenchLine('something else')).toBeUndefined();
    expect(() => parseIrqBenchLine('irq-bench eoi iterations')).toThrow(/cannot parse/);
  });

  it('turns an error line or a missing line into an exception carrying the output', () => {
    expect(() => parseIrqBenchOutput('irq-bench error what=self-ipi sample=3 apic_errors=0 spurious=0\n')).toThrow(/failed.*self-ipi/s);
    const partial = 'irq-bench rdtsc samples=10 median_cycles=40 tsc_khz=2400000\nirq-bench eoi iterations=10 cycles_per_op=123 median_cycles=120 tsc_khz=2400000\n';
    expect(() => parseIrqBenchOutput(partial)).toThrow(/no "self-ipi" line/);
    expect(() => parseIrqBenchOutput('irq-bench rdtsc samples=10 median_cycles=x tsc_khz=2400000\n')).toThrow(/median_cycles is missing or not an integer/);
  });
});

describeKvm('interrupt-latency benchmark', () => {
  it('runs the irq-bench guest on two vCPUs and reads one well-formed line per measurement', async () => {
    const output = await runIrqBenchGuest(COUNTS);
    const lines = output.split('\n').filter((line) => line.length > 0);
    // Exactly one line per measurement, each an irq-bench line.
    expect(lines.map((line) => parseIrqBenchLine(line)?.name)).toEqual(['rdtsc', 'eoi', 'self-ipi', 'timer-lateness', 'ipi-latency', 'ipi-latency', 'ipi-roundtrip']);

    const irq = parseIrqBenchOutput(output);
    expect(irq.tscKhz).toBeGreaterThan(0);
    expect(irq.rdtscCycles).toBeGreaterThan(0);
    expect(irq.eoi.iterations).toBe(COUNTS.eoiIterations);
    expect(irq.eoi.cycles).toBeGreaterThan(0);
    expect(irq.eoi.ns).toBeGreaterThan(0);
    expect(irq.eoi.medianCycles).toBeGreaterThan(0);
    expect(irq.selfIpi.iterations).toBe(COUNTS.selfIpiIterations);
    expect(irq.selfIpi.cycles).toBeGreaterThan(0);
    expect(irq.selfIpi.medianCycles).toBeGreaterThan(0);
    // Each sample's first part is no longer than the whole sample, so their medians are ordered too.
    expect(irq.selfIpi.medianToHandlerCycles).toBeGreaterThan(0);
    expect(irq.selfIpi.medianToHandlerCycles).toBeLessThanOrEqual(irq.selfIpi.medianCycles);
    expect(irq.timer.mode).toBe('tsc-deadline');
    expect(irq.timer.hz).toBe(1000);
    expectDistribution(irq.timer, COUNTS.timerTicks);
    expect(irq.timer.skipped).toBeGreaterThanOrEqual(0);
    expect(irq.timer.skipped).toBeLessThan(COUNTS.timerTicks);
    expect(irq.timer.early).toBeGreaterThanOrEqual(0);
    expect(irq.timer.early).toBeLessThanOrEqual(COUNTS.timerTicks);
    expectDistribution(irq.ipi.spin, COUNTS.ipiSamples);
    expectDistribution(irq.ipi.halt, COUNTS.ipiSamples);
    expectDistribution(irq.ipiRoundTrip, COUNTS.ipiSamples);
    // The round trip is on one CPU's clock: it cannot be negative whatever the TSCs do.
    expect(irq.ipiRoundTrip.minNs).toBeGreaterThan(0);
  }, 240_000);
});
