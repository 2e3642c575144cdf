/**
 * Boot and footprint: how long a VMM process takes from its start to the guest's first byte
 * on COM1 and to its exit, and its peak resident memory, read by bench/build/measure (a small
 * C program that forks, execs, timestamps the child's first byte of stdout and reads its
 * ru_maxrss from wait4), so that no Node.js event loop sits between the clock and the child.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BENCH_GUEST } from './bench-guest.js';
import { QEMU, qemuArguments } from './qemu.js';
import { BOOT_NAMES } from './report.js';

const MEASURE = fileURLToPath(new URL('../../bench/build/measure', import.meta.url));
/** The shipped CLI: the bundle npm install builds. */
const CLI = fileURLToPath(new URL('../bundle/cli.js', import.meta.url));
const HELLO = fileURLToPath(new URL('../../configs/hello-x86_64.toml', import.meta.url));
/** The bench guest with `ops=none`: it prints its banner and exits at once. */
const BOOT = fileURLToPath(new URL('../../bench/boot.toml', import.meta.url));

export interface Measured {
  readonly exitMs: number;
  /** Undefined when the program printed nothing. */
  readonly firstByteMs: number | undefined;
  readonly maxRssKb: number;
  readonly status: number;
}

/** What is measured, and the exit status that says it ran as it should. */
export interface BootSubject {
  readonly name: string;
  readonly command: readonly string[];
  readonly status: number;
}

export function bootSubjects(qemu: boolean): BootSubject[] {
  return [
    { name: BOOT_NAMES.node, command: [process.execPath, '-e', '0'], status: 0 },
    { name: BOOT_NAMES.tsvisorHello, command: [process.execPath, CLI, 'run', HELLO], status: 43 },
    { name: BOOT_NAMES.tsvisorBench, command: [process.execPath, CLI, 'run', BOOT], status: 1 },
    ...(qemu ? [{ name: BOOT_NAMES.qemuBench, command: [QEMU, ...qemuArguments(BENCH_GUEST, 'ops=none')], status: 1 }] : []),
  ];
}

const MEASURE_LINE = /^measure wall_ns=(\d+) first_byte_ns=(-?\d+) max_rss_kb=(\d+) status=(\d+)$/m;

export function measureBoot(subject: BootSubject): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const child = spawn(MEASURE, subject.command, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', () => {
      const match = MEASURE_LINE.exec(stderr);
      if (!match) return reject(new Error(`bench/build/measure printed no measure line for ${subject.name}:\n${stderr}`));
      const [, wall, firstByte, rss, status] = match.map(Number) as [number, number, number, number, number];
      if (status !== subject.status) return reject(new Error(`${subject.name} exited with status ${status}, not ${subject.status}:\n${stderr}`));
      resolve({ exitMs: wall / 1e6, firstByteMs: firstByte < 0 ? undefined : firstByte / 1e6, maxRssKb: rss, status });
    });
  });
}
