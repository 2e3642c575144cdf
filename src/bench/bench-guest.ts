/**
 * The bench guest (guests/bench) under each VMM the suite compares: tsvisor (in this process,
 * through the Vm API), the C floor (bench/build/mb-floor, the thinnest exit loop on /dev/kvm)
 * and QEMU with KVM. The same multiboot ELF boots under all three; its command line picks the
 * operations, and it prints one line per operation with the cycles it measured:
 *   bench op=<name> iterations=<N> batches=<B> cycles_per_op=<C> min=<C> median=<C> tsc_khz=<K>
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadVmConfig } from '../config/load-config.js';
import { runGuestForOutput } from './guest-run.js';
import { QEMU, qemuArguments } from './qemu.js';

export const BENCH_GUEST = fileURLToPath(new URL('../../guests/build/bench.elf32', import.meta.url));
const BENCH_GUEST_CONFIG = fileURLToPath(new URL('../../bench/bench-guest.toml', import.meta.url));
const FLOOR = fileURLToPath(new URL('../../bench/build/mb-floor', import.meta.url));
/** A run that takes longer has lost an interrupt (hlt-timer waits for one without a timeout). */
const RUN_LIMIT_MS = 300_000;

/** Every operation, in the guest's order. */
export const OPERATIONS = ['pio-out', 'pio-in', 'mmio-write', 'mmio-read', 'cpuid', 'eoi', 'self-ipi', 'hlt-timer'] as const;
export type Operation = (typeof OPERATIONS)[number];
/** What the C floor can serve: it has no Local APIC. */
export const FLOOR_OPERATIONS: readonly Operation[] = ['pio-out', 'pio-in', 'mmio-write', 'mmio-read', 'cpuid'];

export type Runner = 'tsvisor' | 'floor' | 'qemu';

export interface GuestRun {
  readonly operations: readonly Operation[] | 'none';
  readonly iterations: number;
  readonly batches: number;
  readonly warmup: number;
  /** The TSC frequency, for a guest that cannot read it from CPUID (QEMU). */
  readonly tscKhz: number;
}

/** One operation's line: cycles per operation, the mean and the min and median of the batch means. */
export interface OperationFigures {
  readonly name: Operation;
  readonly iterations: number;
  readonly batches: number;
  readonly cyclesPerOp: number;
  readonly minCycles: number;
  readonly medianCycles: number;
  readonly tscKhz: number;
}

/** A guest run that did not end as it should: what ran, how it ended, and what it printed. */
export class BenchGuestError extends Error {
  override name = 'BenchGuestError';
}

export function guestCommandLine(run: GuestRun): string {
  const operations = run.operations === 'none' ? 'none' : run.operations.join(',');
  return `ops=${operations} iterations=${run.iterations} batches=${run.batches} warmup=${run.warmup} tsc_khz=${run.tscKhz}`;
}

const LINE = /^bench op=([a-z-]+) iterations=(\d+) batches=(\d+) cycles_per_op=(\d+) min=(\d+) median=(\d+) tsc_khz=(\d+)( delay_ns=\d+)?$/;
const ERROR_LINE = /^bench op=([a-z-]+) error=(\S+)$/;

/** The figures in the guest's output; throws a BenchGuestError if it did not finish, or an operation failed. */
export function parseGuestOutput(output: string, runner: Runner): OperationFigures[] {
  const lines = output.split(/\r?\n/).map((line) => line.trim());
  // Under QEMU, SeaBIOS's own output shares the banner's line.
  if (!lines.some((line) => line.includes('bench guest ready')) || !lines.includes('bench done')) {
    throw new BenchGuestError(`the bench guest under ${runner} did not run to "bench done"; it printed:\n${output}`);
  }
  const figures: OperationFigures[] = [];
  for (const line of lines) {
    const failed = ERROR_LINE.exec(line);
    if (failed) throw new BenchGuestError(`the bench guest's ${failed[1]} failed under ${runner} (${failed[2]})`);
    const match = LINE.exec(line);
    if (!match) continue;
    const [, name, iterations, batches, cyclesPerOp, minCycles, medianCycles, tscKhz] = match as unknown as [string, Operation, ...string[]];
    figures.push({
      name,
      iterations: Number(iterations),
      batches: Number(batches),
      cyclesPerOp: Number(cyclesPerOp),
      minCycles: Number(minCycles),
      medianCycles: Number(medianCycles),
      tscKhz: Number(tscKhz),
    });
  }
  return figures;
}

/** Runs the bench guest once under `runner` and returns its COM1 output. */
export async function runGuest(runner: Runner, run: GuestRun): Promise<string> {
  const commandLine = guestCommandLine(run);
  switch (runner) {
    case 'tsvisor':
      return runUnderTsvisor(commandLine);
    case 'floor':
      return runProgram(FLOOR, [BENCH_GUEST, commandLine], 0);
    case 'qemu':
      return runProgram(QEMU, qemuArguments(BENCH_GUEST, commandLine), 1);
  }
}

/** tsvisor in this process: the bench guest's config with this command line. */
function runUnderTsvisor(commandLine: string): Promise<string> {
  const spec = loadVmConfig(BENCH_GUEST_CONFIG);
  return runGuestForOutput(
    { ...spec, boot: { ...spec.boot, cmdline: commandLine } },
    {
      name: 'bench',
      limitMs: RUN_LIMIT_MS,
      expected: (exit) => exit.kind === 'debug-exit' && exit.value === 0,
      failure: (message) => new BenchGuestError(message),
    },
  );
}

/** A child process's stdout, once it exits with `expectedStatus`. */
function runProgram(program: string, args: readonly string[], expectedStatus: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: RUN_LIMIT_MS });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (status, signal) => {
      if (status === expectedStatus) resolve(stdout);
      else reject(new BenchGuestError(`${program} ${args.join(' ')} ended with ${signal ?? `status ${status}`}:\n${stdout}${stderr}`));
    });
  });
}
