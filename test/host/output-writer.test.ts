/**
 * The main thread's writer of COM1's output: a full pipe makes it return 0 instead of blocking,
 * the shim's WritableWatch calls back from the event loop once a reader makes room, and the
 * descriptor it was given keeps its flags. A regular file is written as it always was.
 */
import { closeSync, openSync, readFileSync, readSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { F_GETFL, O_NONBLOCK, fcntl } from '../../src/host/libc.js';
import { openOutputWriter } from '../../src/host/output-writer.js';
import { nativeShim } from '../../src/host/shim.js';
import { fifoFolder, openFifo } from '../helpers/fifo.js';

const folder = fifoFolder('tsvisor-output-writer-');
afterAll(folder.remove);

const openFds = () => readdirSync('/proc/self/fd').length;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const fifo = (name: string) => openFifo(join(folder.path, name));

/** Reads what the pipe holds, up to `limit` bytes. */
function drain(fd: number, limit = Infinity): number {
  const buffer = new Uint8Array(65536);
  let total = 0;
  while (total < limit) {
    try {
      const count = readSync(fd, buffer, 0, Math.min(buffer.length, limit - total), null);
      if (count === 0) break;
      total += count;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'EAGAIN') break;
      throw error;
    }
  }
  return total;
}

describe('openOutputWriter', () => {
  it('writes a regular file synchronously, every byte, and leaves the descriptor open', () => {
    const path = join(folder.path, 'serial.log');
    const fd = openSync(path, 'w');
    const writer = openOutputWriter(fd);
    expect(writer.write(new TextEncoder().encode('hello '))).toBe(6);
    expect(writer.write(new TextEncoder().encode('file\n'))).toBe(5);
    writer.close();
    closeSync(fd); // still open: the caller's to close
    expect(readFileSync(path, 'utf8')).toBe('hello file\n');
  });

  it('takes what a pipe has room for, then returns 0 instead of blocking, and waits for room in the event loop', async () => {
    const { reader, writer: fd } = fifo('full');
    const fdsBefore = openFds();
    const writer = openOutputWriter(fd);
    expect(openFds()).toBe(fdsBefore + 1); // a description of its own
    expect(fcntl(fd, F_GETFL, 0) & O_NONBLOCK).toBe(0); // the one it was given stays blocking
    const big = new Uint8Array(1 << 20).fill(0x5a);
    const first = writer.write(big);
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(big.length);
    expect(writer.write(big)).toBe(0);
    let writable = false;
    writer.whenWritable(() => (writable = true));
    await sleep(50);
    expect(writable).toBe(false);
    expect(drain(reader)).toBe(first);
    for (let waited = 0; !writable && waited < 2000; waited += 5) await sleep(5);
    expect(writable).toBe(true);
    expect(writer.write(big)).toBeGreaterThan(0);
    writer.close();
    expect(openFds()).toBe(fdsBefore);
    closeSync(fd);
    closeSync(reader);
  });

  it('stops waiting on close(): the callback never comes', async () => {
    const { reader, writer: fd } = fifo('closed');
    const writer = openOutputWriter(fd);
    while (writer.write(new Uint8Array(65536)) > 0);
    let called = false;
    writer.whenWritable(() => (called = true));
    writer.close();
    drain(reader);
    await sleep(50);
    expect(called).toBe(false);
    closeSync(fd);
    closeSync(reader);
  });

  it('throws the write\'s error (EPIPE) once the reader is gone', () => {
    const { reader, writer: fd } = fifo('gone');
    const writer = openOutputWriter(fd);
    closeSync(reader);
    expect(() => writer.write(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'EPIPE' }));
    writer.close();
    closeSync(fd);
  });
});

describe('the shim\'s WritableWatch', () => {
  it('refuses misuse', () => {
    const { WritableWatch } = nativeShim();
    expect(() => new WritableWatch('x' as unknown as number)).toThrow('new WritableWatch(fd: number)');
    const { reader, writer: fd } = fifo('misuse');
    const watch = new WritableWatch(fd);
    expect(() => (watch.arm as (callback: unknown) => void)(5)).toThrow('arm(callback: () => void)');
    watch.close();
    expect(() => watch.arm(() => {})).toThrow('arm() after close()');
    closeSync(fd);
    closeSync(reader);
    const file = openSync(join(folder.path, 'not-pollable'), 'w');
    expect(() => new WritableWatch(file)).toThrow('uv_poll_init failed: EPERM'); // epoll takes no regular file
    closeSync(file);
  });
});
