/**
 * The flood test kernel (guests/flood) under `tsvisor run`, on real KVM, with tsvisor's stdout
 * a pipe that the test leaves unread for a while: the guest is held back, tsvisor is not. The
 * pipe is a FIFO shrunk to one page, so that it fills after 4 KiB, and tsvisor's output ring
 * (16 KiB) and COM1's FIFO after it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, readFileSync, readSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { F_SETPIPE_SZ, fcntl, ioctlBuffer } from '../../src/host/libc.js';
import { emulatedByQemu } from '../../src/kvm/index.js';
import { fifoFolder, openFifo } from '../helpers/fifo.js';
import { describeKvm } from '../helpers/kvm.js';
import { CLI, REPO } from '../helpers/tsvisor.js';

const LINES = 1024;
const LINE_BYTES = 64;
const EXIT_STATUS = (0x2a << 1) | 1;
const FIONREAD = 0x541b;
const PIPE_BYTES = 4096;
/**
 * How soon SIGINT must end tsvisor: a second, as the issue asks, on a real CPU. The test VM's
 * CPU is emulated some fifty times slower (tsvisor's own exit then takes seconds): there the
 * bound only tells a stop from a hang.
 */
const STOP_LIMIT_MS = emulatedByQemu(cpus()[0]?.model ?? '') ? 15_000 : 1000;

/** What the guest prints: line n is "flood <n> " and 50 letters from 'a' + n % 26, then "\n". */
const EXPECTED = Array.from({ length: LINES }, (_, n) => {
  const letters = Array.from({ length: LINE_BYTES - 14 }, (_, i) => String.fromCharCode(0x61 + ((n + i) % 26))).join('');
  return `flood ${String(n).padStart(6, '0')} ${letters}\n`;
}).join('');

const folder = fifoFolder('tsvisor-flood-');
afterAll(folder.remove);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** Where `actual` first differs from `expected`, or -1: a failure names the byte instead of diffing 64 KiB. */
const firstDifference = (actual: string, expected: string) => {
  for (let i = 0; i < Math.max(actual.length, expected.length); i++) if (actual[i] !== expected[i]) return i;
  return -1;
};

interface Ended {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly at: number;
}

/** `tsvisor run configs/flood-x86_64.toml` with its stdout the write end of a one-page FIFO that only the test reads. */
function floodIntoPipe(name: string) {
  const { reader, writer: writeEnd } = openFifo(join(folder.path, name));
  const pipeBytes = fcntl(reader, F_SETPIPE_SZ, PIPE_BYTES);
  expect(pipeBytes).toBe(PIPE_BYTES);
  const child: ChildProcess = spawn(process.execPath, [CLI, 'run', 'configs/flood-x86_64.toml'], { cwd: REPO, stdio: ['ignore', writeEnd, 'pipe'] });
  closeSync(writeEnd); // tsvisor holds the only write end: its exit ends the pipe
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let ended: Ended | undefined;
  const exited = new Promise<Ended>((resolve) => child.on('exit', (status, signal) => resolve((ended = { status, signal, at: performance.now() }))));
  const chunks: Buffer[] = [];
  let received = 0;
  const buffer = Buffer.alloc(65536);
  const count = new Int32Array(1);
  return {
    child,
    exited,
    get ended() {
      return ended;
    },
    get stderr() {
      return stderr;
    },
    get received() {
      return received;
    },
    /** Bytes waiting in the pipe. */
    pending(): number {
      expect(ioctlBuffer(reader, FIONREAD, new Uint8Array(count.buffer))).toBe(0);
      return count[0] as number;
    },
    /** Reads what the pipe holds; false at end of file (tsvisor has exited and the pipe is empty). */
    read(): boolean {
      for (;;) {
        let n: number;
        try {
          n = readSync(reader, buffer, 0, buffer.length, null);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'EAGAIN') return true;
          throw error;
        }
        if (n === 0) return false;
        chunks.push(Buffer.from(buffer.subarray(0, n)));
        received += n;
      }
    },
    output: () => Buffer.concat(chunks).toString('latin1'),
    /** tsvisor's resident set in KiB while it runs; undefined once it has ended (a zombie has no VmRSS line). */
    rssKiB(): number | undefined {
      try {
        const kib = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1];
        return kib === undefined ? undefined : Number(kib);
      } catch {
        return undefined;
      }
    },
    close: () => closeSync(reader),
  };
}

type Flood = ReturnType<typeof floodIntoPipe>;

/** Polls until `condition` holds; fails if tsvisor ends first or `limitMs` pass. */
async function until(flood: Flood, condition: () => boolean, what: string, limitMs = 120_000): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (flood.ended) throw new Error(`tsvisor ended (${JSON.stringify(flood.ended)}) before ${what}; stderr: ${flood.stderr}`);
    if (performance.now() - start > limitMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/**
 * Waits until the pipe takes no more: its contents unchanged for half a second. A full pipe of
 * one page may hold less than the page: it has one slot, and a write that does not fit in what
 * the slot has left is refused whole (EAGAIN), so how full it ends depends on the sizes of
 * tsvisor's writes.
 */
async function untilPipeFull(flood: Flood): Promise<number> {
  let held = -1;
  let since = performance.now();
  await until(flood, () => {
    const now = flood.pending();
    if (now !== held) [held, since] = [now, performance.now()];
    return held > 0 && performance.now() - since > 500;
  }, 'the pipe to fill');
  return held;
}

describeKvm('the flood test kernel, its output a pipe nobody reads for a while', () => {
  it('SIGINT ends tsvisor with status 130 within a second while the guest waits on a full output', async () => {
    const flood = floodIntoPipe('sigint.fifo');
    try {
      // Read the interrupt-driven half as it comes, then stop: the polled half fills the pipe,
      // the ring and the FIFO, and spins on LSR.
      await until(flood, () => (flood.read(), flood.received >= EXPECTED.length / 2), 'the first half of the output');
      await untilPipeFull(flood);
      await sleep(2000);
      expect(flood.ended).toBeUndefined(); // the guest is held back: it cannot have finished
      const signalled = performance.now();
      flood.child.kill('SIGINT');
      const ended = await flood.exited;
      expect(ended.status).toBe(130);
      expect(ended.at - signalled).toBeLessThan(STOP_LIMIT_MS);
      // The stop point: the polled half spins on LSR (0x3fd), waiting for THRE.
      expect(flood.stderr).toMatch(
        /^tsvisor: stopped by SIGINT\ntsvisor: vCPU 0 was running in 64-bit long mode at 0x[0-9a-f]+, interrupts (enabled|disabled); \d+ exits, the last I\/O or MMIO exit KVM_EXIT_IO, a read of I\/O port 0x3fd\n$/,
      );
      flood.read();
      // What came out before the stop is the output's beginning, unbroken.
      expect(flood.received).toBeLessThan(EXPECTED.length);
      expect(firstDifference(flood.output(), EXPECTED.slice(0, flood.received))).toBe(-1);
    } finally {
      flood.child.kill('SIGKILL');
      flood.close();
    }
  }, 180_000);

  it('delivers every byte once, in order, once the test reads, with tsvisor\'s memory bounded meanwhile', async () => {
    const flood = floodIntoPipe('read-later.fifo');
    try {
      const full = await untilPipeFull(flood);
      const baseline = flood.rssKiB() as number;
      const samples: number[] = [];
      // Not reading for a while: the ring and COM1's FIFO fill behind the pipe, and the
      // interrupt-driven half of the guest waits for THR-empty.
      for (let i = 0; i < 30; i++) {
        await sleep(100);
        samples.push(flood.rssKiB() as number);
      }
      expect(flood.ended).toBeUndefined();
      expect(flood.pending()).toBe(full);
      // Now read it all as it comes.
      while (flood.read()) {
        const rss = flood.rssKiB();
        if (rss !== undefined) samples.push(rss);
        await sleep(5);
      }
      const ended = await flood.exited;
      expect(flood.stderr).toBe('');
      expect(ended.status).toBe(EXIT_STATUS);
      expect(flood.received).toBe(EXPECTED.length);
      expect(firstDifference(flood.output(), EXPECTED)).toBe(-1);
      expect(Math.max(...samples) - baseline).toBeLessThan(16 * 1024);
    } finally {
      flood.child.kill('SIGKILL');
      flood.close();
    }
  }, 180_000);
});
