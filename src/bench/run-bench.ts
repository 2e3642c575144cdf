/**
 * tsvisor bench: what each kind of VM exit costs in tsvisor, side by side with the floor (the
 * same guest on the thinnest C loop over /dev/kvm) and with QEMU, in one run on one machine.
 *
 * Every measurement is interleaved, tsvisor then C then QEMU, round after round, so that drift
 * on a shared machine hits all alike; each figure is the median over rounds with the min and
 * max beside it. The table goes to the terminal; the same results go to
 * bench/results/<date>.json and a self-contained HTML report beside it.
 */
import { readFileSync, writeSync } from 'node:fs';
import { arch, cpus, release } from 'node:os';
import { fileURLToPath } from 'node:url';
import * as kvm from '../kvm/index.js';
import { FLOOR_OPERATIONS, OPERATIONS, parseGuestOutput, runGuest, type GuestRun, type Operation, type Runner } from './bench-guest.js';
import { bootSubjects, measureBoot, type Measured } from './boot-footprint.js';
import { interruptLatencies } from './interrupt-latency.js';
import { microBenchmarks } from './micro.js';
import { installQemu, qemuVersion } from './qemu.js';
import { BOOT_NAMES, formatTable, writeHtml, writeJson, type BenchReport, type OperationResult, type Stat } from './report.js';
import { bareWorkerWakeLatencies, haltWakeLatencies, kickLatencies } from './wake-latency.js';

export interface BenchOptions {
  readonly quick: boolean;
  /** apt-get QEMU when it is missing. */
  readonly installPeers: boolean;
}

const RESULTS = fileURLToPath(new URL('../../bench/results/', import.meta.url));

const benchStarted = Date.now();
/** Progress on stderr, so that stdout holds the table alone. */
const progress = (text: string) => writeSync(2, `bench: ${((Date.now() - benchStarted) / 1000).toFixed(0).padStart(4)} s  ${text}\n`);

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function percentile(values: readonly number[], fraction: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

const stat = (values: readonly number[]): Stat => ({ cyclesMin: Math.min(...values), cyclesMedian: median(values), cyclesMax: Math.max(...values) });
const spread = (values: readonly number[]) => ({ min: Math.min(...values), median: median(values), max: Math.max(...values) });

/** The host's TSC frequency as KVM gives it to a guest (every VMM's guest runs at this rate). */
function hostTscKhz(): number {
  const system = kvm.Kvm.open();
  try {
    const vm = system.createVm();
    try {
      const vcpu = vm.createVcpu(0);
      try {
        return vcpu.getTscKhz();
      } finally {
        vcpu.close();
      }
    } finally {
      vm.close();
    }
  } finally {
    system.close();
  }
}

/** QEMU's version, installing it first when asked; undefined (with a note) when it is not there. */
function prepareQemu(options: BenchOptions, notes: string[]): string | undefined {
  let version = qemuVersion();
  if (!version && options.installPeers) {
    progress('installing qemu-system-x86 (apt-get)');
    installQemu();
    version = qemuVersion();
  }
  if (!version) notes.push('QEMU: qemu-system-x86_64 is not installed, so its column is empty; `npm run bench -- --install-peers` installs it (apt-get, as root).');
  return version;
}

/** The bench guest's operations under every runner, interleaved round by round. */
async function operations(run: GuestRun, rounds: number, runners: readonly Runner[]): Promise<OperationResult[]> {
  const samples = new Map<string, number[]>();
  for (let round = 1; round <= rounds; round++) {
    for (const runner of runners) {
      progress(`operations under ${runner}, round ${round} of ${rounds}`);
      const operationsOf = runner === 'floor' ? FLOOR_OPERATIONS : OPERATIONS;
      for (const figures of parseGuestOutput(await runGuest(runner, { ...run, operations: operationsOf }), runner)) {
        const key = `${runner}:${figures.name}`;
        samples.set(key, [...(samples.get(key) ?? []), figures.medianCycles]);
      }
    }
  }
  const statOf = (runner: Runner, operation: Operation) => {
    const values = samples.get(`${runner}:${operation}`);
    return values ? stat(values) : undefined;
  };
  return OPERATIONS.map((name) => {
    const [tsvisor, floor, qemu] = (['tsvisor', 'floor', 'qemu'] as const).map((runner) => statOf(runner, name));
    return { name, tscKhz: run.tscKhz, ...(tsvisor && { tsvisor }), ...(floor && { floor }), ...(qemu && { qemu }) };
  });
}

/** Boot times and peak RSS, each subject once per round in turn. */
async function bootAndFootprint(rounds: number, qemu: boolean): Promise<Pick<BenchReport, 'boot' | 'footprint'>> {
  const subjects = bootSubjects(qemu);
  const measured = new Map<string, Measured[]>();
  for (let round = 1; round <= rounds; round++) {
    progress(`boot and footprint, round ${round} of ${rounds}`);
    for (const subject of subjects) measured.set(subject.name, [...(measured.get(subject.name) ?? []), await measureBoot(subject)]);
  }
  const boot = subjects.map(({ name }) => {
    const runs = measured.get(name) as Measured[];
    const firstBytes = runs.map((run) => run.firstByteMs).filter((ms) => ms !== undefined);
    return { name, exitMs: spread(runs.map((run) => run.exitMs)), ...(firstBytes.length && { firstByteMs: spread(firstBytes) }) };
  });
  // Peak RSS for a 1-vCPU, 16 MiB guest: the bench guest under each VMM, and bare Node for reference.
  const footprint = subjects
    .filter(({ name }) => name !== BOOT_NAMES.tsvisorHello)
    .map(({ name }) => ({ name, maxRssKb: median((measured.get(name) as Measured[]).map((run) => run.maxRssKb)) }));
  return { boot, footprint };
}

/** The earlier issues' latencies: kicks and wakes from the main thread, and the irq-bench guest's interrupt figures. */
async function latencies(quick: boolean): Promise<BenchReport['latencies']> {
  progress('kick, halt-wake and interrupt latencies');
  const samples = quick ? 200 : 2000;
  const us = (values: readonly number[]) => ({ medianUs: median(values) / 1000, p99Us: percentile(values, 0.99) / 1000 });
  const kicks = await kickLatencies(samples);
  const wakes = await haltWakeLatencies(samples);
  const bareWakes = await bareWorkerWakeLatencies(samples);
  const irq = await interruptLatencies(
    quick ? { eoiIterations: 5000, selfIpiIterations: 1000, timerTicks: 300, ipiSamples: 300 } : { eoiIterations: 20000, selfIpiIterations: 5000, timerTicks: 1000, ipiSamples: 1000 },
  );
  const ns = (value: { medianNs: number; p99Ns: number }) => ({ medianUs: value.medianNs / 1000, p99Us: value.p99Ns / 1000 });
  return [
    { name: 'kick: main thread -> vCPU out of KVM_RUN', ...us(kicks) },
    { name: 'halt-wake: interrupt -> vCPU running', ...us(wakes) },
    { name: 'bare worker wake (no VM), for reference', ...us(bareWakes) },
    { name: 'LAPIC timer at 1 kHz, lateness (guest in hlt)', ...ns(irq.timer) },
    { name: 'IPI vCPU 0 -> vCPU 1, target spinning', ...ns(irq.ipi.spin) },
    { name: 'IPI vCPU 0 -> vCPU 1, target halted', ...ns(irq.ipi.halt) },
  ];
}

function hostDescription(): BenchReport['host'] {
  const model = cpus()[0]?.model ?? 'unknown CPU';
  const kvmModule = ['kvm_intel', 'kvm_amd', 'kvm_pvm'].find((module) => {
    try {
      readFileSync(`/sys/module/${module}/refcnt`);
      return true;
    } catch {
      return false;
    }
  });
  return { cpus: `${cpus().length} × ${model} (${arch()})${kvmModule ? `, ${kvmModule}` : ''}`, kernel: release(), node: process.version, qemu: undefined };
}

/**
 * A CPU that QEMU emulates in software (TCG): the model it reports is "QEMU TCG CPU ...". Such
 * a machine is the test VM of a host without /dev/kvm (npm run test:vm), where every figure
 * is many times slower than on a real machine and says nothing about one.
 */
export function emulatedCpuNote(model: string): string | undefined {
  if (!kvm.emulatedByQemu(model)) return undefined;
  return `This machine's CPU is emulated by QEMU in software ("${model}"): it is the test VM of a host without /dev/kvm, or another TCG guest. These timings are not performance figures; run the bench on a host with /dev/kvm.`;
}

export async function runBench(options: BenchOptions): Promise<void> {
  const started = Date.now();
  const notes: string[] = [];
  const emulated = emulatedCpuNote(cpus()[0]?.model ?? '');
  if (emulated) {
    notes.push(emulated);
    writeSync(2, `tsvisor bench: ${emulated}\n`);
  }
  const qemu = prepareQemu(options, notes);
  const tscKhz = hostTscKhz();
  // The first tsvisor run starts a fresh vCPU thread, whose exit path V8 compiles anew (later
  // runs reuse the thread): the warm-up lets it optimise that path before the batches are timed.
  const run: GuestRun = options.quick
    ? { operations: OPERATIONS, iterations: 1000, batches: 3, warmup: 1000, tscKhz }
    : { operations: OPERATIONS, iterations: 4000, batches: 5, warmup: 2000, tscKhz };
  const runners: Runner[] = ['tsvisor', 'floor', ...(qemu ? (['qemu'] as const) : [])];

  const report: BenchReport = {
    date: new Date(started).toISOString(),
    host: { ...hostDescription(), qemu },
    quick: options.quick,
    operations: await operations(run, options.quick ? 3 : 7, runners),
    ...(await bootAndFootprint(options.quick ? 5 : 15, qemu !== undefined)),
    latencies: await latencies(options.quick),
    micro: await microBenchmarks({ quick: options.quick, notes }),
    notes,
  };
  writeSync(1, formatTable(report));
  const json = writeJson(report, RESULTS);
  const html = writeHtml(report, RESULTS);
  writeSync(1, `\nResults: ${json}\nReport:  ${html} (open it in a browser)\nTook ${((Date.now() - started) / 1000).toFixed(0)} s.\n`);
}
