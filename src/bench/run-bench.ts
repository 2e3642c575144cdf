/**
 * tsvisor bench: each measurement side by side with its reference, interleaved A B A B
 * over several rounds so that drift on a shared machine hits both alike; medians and
 * ratios are printed. The interrupt figures, measured inside the guest (irq-bench), stand
 * alone.
 */
import { writeSync } from 'node:fs';
import { floorNsPerExit, tsvisorNsPerExit } from './exit-latency.js';
import { interruptLatencies } from './interrupt-latency.js';
import { bareNodeMs, helloBootToExitMs } from './startup.js';
import { bareWorkerWakeLatencies, haltWakeLatencies, kickLatencies } from './wake-latency.js';

export interface BenchOptions {
  readonly quick: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

function interleave(rounds: number, a: () => Promise<number> | number, b: () => Promise<number> | number) {
  return (async () => {
    const first: number[] = [];
    const second: number[] = [];
    for (let round = 0; round < rounds; round++) {
      first.push(await a());
      second.push(await b());
    }
    return { a: median(first), b: median(second) };
  })();
}

const line = (text: string) => writeSync(1, `${text}\n`);
const row = (label: string, value: string) => line(`  ${label.padEnd(56)}${value.padStart(12)}`);

export async function runBench(options: BenchOptions): Promise<void> {
  const iterations = options.quick ? 50_000 : 200_000;
  const exitRounds = options.quick ? 3 : 7;
  const startRounds = options.quick ? 5 : 15;

  await tsvisorNsPerExit(1000); // warm up: load koffi and compile the exit path
  const exits = await interleave(exitRounds, () => floorNsPerExit(iterations), () => tsvisorNsPerExit(iterations));
  line(`VM exit: guest \`out\` to an unassigned port (${iterations} exits, median of ${exitRounds} rounds)`);
  row('C floor (bench/exit-floor)', `${(exits.a / 1000).toFixed(2)} µs`);
  row('tsvisor (vCPU on a worker thread)', `${(exits.b / 1000).toFixed(2)} µs`);
  row('tsvisor / C', `${(exits.b / exits.a).toFixed(3)}`);

  const samples = options.quick ? 200 : 2000;
  const kicks = await kickLatencies(samples);
  const wakes = await haltWakeLatencies(samples);
  const bareWakes = await bareWorkerWakeLatencies(samples);
  line(`Reaching a vCPU from the main thread (${samples} samples each)`);
  row('kick (spinning in the guest -> KVM_EXIT_INTR), median', `${(median(kicks) / 1000).toFixed(1)} µs`);
  row('kick, p99', `${(percentile(kicks, 0.99) / 1000).toFixed(1)} µs`);
  row('halt-wake (Atomics.notify -> running), median', `${(median(wakes) / 1000).toFixed(1)} µs`);
  row('halt-wake, p99', `${(percentile(wakes, 0.99) / 1000).toFixed(1)} µs`);
  row('bare worker wake (no VM), median', `${(median(bareWakes) / 1000).toFixed(1)} µs`);
  row('bare worker wake, p99', `${(percentile(bareWakes, 0.99) / 1000).toFixed(1)} µs`);

  const irqCounts = options.quick
    ? { eoiIterations: 5000, selfIpiIterations: 1000, timerTicks: 300, ipiSamples: 300 }
    : { eoiIterations: 20_000, selfIpiIterations: 5000, timerTicks: 1000, ipiSamples: 1000 };
  const irq = await interruptLatencies(irqCounts);
  const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
  line(`Interrupts (measured by the guest in TSC cycles): guests/irq-bench on 2 vCPUs, TSC ${(irq.tscKhz / 1000).toFixed(0)} MHz`);
  row('rdtsc itself, cycles (in each timed sample once)', `${irq.rdtscCycles}`);
  row(`EOI write, cycles (mean of ${irq.eoi.iterations})`, `${irq.eoi.cycles}`);
  row('EOI write, ns (mean)', `${irq.eoi.ns.toFixed(0)} ns`);
  row('EOI write, ns (median, timed one by one)', `${irq.eoi.medianNs.toFixed(0)} ns`);
  row(`self-IPI round trip, cycles (mean of ${irq.selfIpi.iterations})`, `${irq.selfIpi.cycles}`);
  row('self-IPI round trip, µs (mean)', us(irq.selfIpi.ns));
  row('self-IPI round trip, µs (median)', us(irq.selfIpi.medianNs));
  row('self-IPI, ICR write to handler entry, µs (median)', us((irq.selfIpi.medianToHandlerCycles * 1e6) / irq.tscKhz));
  row(`LAPIC timer at 1 kHz, hlt, lateness median (${irq.timer.samples} ticks)`, us(irq.timer.medianNs));
  row(`LAPIC timer lateness, p99 (${irq.timer.skipped} ticks skipped)`, us(irq.timer.p99Ns));
  row(`IPI vCPU 0 -> vCPU 1, target spinning, median (${irq.ipi.spin.samples})`, us(irq.ipi.spin.medianNs));
  row('IPI vCPU 0 -> vCPU 1, target spinning, p99', us(irq.ipi.spin.p99Ns));
  row(`IPI vCPU 0 -> vCPU 1, target halted, median (${irq.ipi.halt.samples})`, us(irq.ipi.halt.medianNs));
  row('IPI vCPU 0 -> vCPU 1, target halted, p99', us(irq.ipi.halt.p99Ns));
  row('IPI ping-pong 0 -> 1 -> 0, target spinning, median', us(irq.ipiRoundTrip.medianNs));
  row('IPI ping-pong, p99', us(irq.ipiRoundTrip.p99Ns));

  const startup = await interleave(startRounds, bareNodeMs, helloBootToExitMs);
  line(`Start-up: process start to exit (median of ${startRounds} runs)`);
  row('node -e 0', `${startup.a.toFixed(1)} ms`);
  row('tsvisor run configs/hello-x86_64.toml', `${startup.b.toFixed(1)} ms`);
  row('tsvisor / node -e 0', `${(startup.b / startup.a).toFixed(2)}`);
}
