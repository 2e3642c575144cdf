/**
 * COM1's output drained by the main thread: a 16550 over an output ring, drained through a
 * writer that refuses bytes for as long as a test likes (a pipe nobody reads). The guest is
 * throttled, nothing is lost, doubled or reordered, and THR-empty brings an interrupt-driven
 * driver back once the host drains.
 */
import { setImmediate as tick } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { OutputRing } from '../../src/devices/output-ring.js';
import { SharedState } from '../../src/devices/shared-state.js';
import * as uart from '../../src/devices/uart16550.js';
import type { OutputWriter } from '../../src/host/output-writer.js';
import { SerialOutput } from '../../src/vmm/serial-output.js';

/** An output that takes `room` more bytes, then refuses until allow() gives it more and says it is writable. */
class TestWriter implements OutputWriter {
  readonly taken: number[] = [];
  room = 0;
  writes = 0;
  closed = false;
  failWith: Error | undefined;
  private ready: (() => void) | undefined;

  write(bytes: Uint8Array): number {
    if (this.failWith) throw this.failWith;
    this.writes++;
    const count = Math.min(this.room, bytes.length);
    this.taken.push(...bytes.subarray(0, count));
    this.room -= count;
    return count;
  }

  whenWritable(ready: () => void): void {
    expect(this.ready).toBeUndefined(); // one wait at a time
    this.ready = ready;
  }

  close(): void {
    this.closed = true;
  }

  allow(bytes: number): void {
    this.room += bytes;
    const ready = this.ready;
    this.ready = undefined;
    ready?.();
  }

  get waiting(): boolean {
    return this.ready !== undefined;
  }
}

class Line {
  level = false;
  setLevel(asserted: boolean): void {
    this.level = asserted;
  }
}

function com1(ringBytes = 64) {
  const ring = OutputRing.create(ringBytes);
  const line = new Line();
  const device = new uart.Uart16550({ irq: line, output: ring });
  const writer = new TestWriter();
  const reports: string[] = [];
  const output = new SerialOutput(ring, device, writer, (message) => reports.push(message));
  output.start();
  const lsr = () => device.readRegister(uart.UART_LSR);
  const thr = (byte: number) => device.write(uart.UART_THR, Uint8Array.of(byte));
  return { ring, line, device, writer, reports, output, lsr, thr };
}

/** Lets the event loop run until `condition` holds. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let turns = 0; !condition(); turns++) {
    if (turns > 100_000) throw new Error(`never: ${what}`);
    await tick();
  }
}

const sequence = (count: number) => Array.from({ length: count }, (_, i) => i & 0xff);

describe('SerialOutput', () => {
  it('holds the guest with LSR busy while the output refuses, then delivers every byte once, in order', async () => {
    const { writer, output, lsr, thr, ring } = com1();
    let sent = 0;
    while (lsr() & uart.LSR_THR_EMPTY) thr(sent++ & 0xff);
    // The ring (64 bytes) and the transmitter (TSR and THR, FIFOs off) are full; nothing is lost.
    expect(sent).toBe(64 + 2);
    expect(lsr() & (uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY)).toBe(0);
    expect(ring.size).toBe(64);
    await until(() => writer.waiting, 'the drainer to wait for the output');
    // A reader takes a little at a time; the guest goes on as room appears.
    while (sent < 1000) {
      if (lsr() & uart.LSR_THR_EMPTY) thr(sent++ & 0xff);
      else {
        writer.allow(7);
        await tick();
      }
    }
    writer.allow(Infinity);
    await expect(output.finish()).resolves.toBe(true);
    expect(writer.taken).toEqual(sequence(1000));
    expect(lsr() & (uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY)).toBe(uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY);
  });

  it('fires THR-empty once the host drains, so an interrupt-driven driver resumes', async () => {
    const { device, line, writer, lsr, thr } = com1(16);
    device.write(uart.UART_FCR, Uint8Array.of(uart.FCR_ENABLE));
    device.write(uart.UART_IER, Uint8Array.of(uart.IER_THRE));
    let sent = 0;
    // The driver's interrupt handler: on THR-empty, up to 16 bytes into the FIFO.
    const onInterrupt = () => {
      expect(device.readRegister(uart.UART_IIR) & 0x0f).toBe(uart.IIR_THR_EMPTY);
      for (let i = 0; i < uart.UART_FIFO_SIZE && sent < 200; i++) thr(sent++ & 0xff);
    };
    while (line.level) onInterrupt();
    expect(sent).toBe(16 + 16); // the ring's 16 bytes, then TSR's and 15 in the FIFO
    expect(lsr() & uart.LSR_THR_EMPTY).toBe(0);
    await tick();
    expect(line.level).toBe(false); // nothing moves while the output refuses
    while (sent < 200) {
      writer.allow(5);
      await until(() => line.level || writer.waiting, 'the drainer to write or wait');
      while (line.level) onInterrupt();
    }
    writer.allow(Infinity);
    await until(() => writer.taken.length === 200, 'every byte written');
    expect(writer.taken).toEqual(sequence(200));
  });

  it('finishes once what the UART still held is out too, and only then', async () => {
    const { writer, output, lsr, thr } = com1(16);
    let sent = 0;
    while (lsr() & uart.LSR_THR_EMPTY) thr(sent++);
    let finished: boolean | undefined;
    void output.finish().then((delivered) => (finished = delivered));
    await tick();
    expect(finished).toBeUndefined();
    writer.allow(17);
    await tick();
    expect(finished).toBeUndefined(); // TSR's byte is still to go
    writer.allow(1);
    await until(() => finished !== undefined, 'finish()');
    expect(finished).toBe(true);
    expect(writer.taken).toEqual(sequence(sent));
  });

  it('finishes at once when there is nothing to write', async () => {
    const { output } = com1();
    await expect(output.finish()).resolves.toBe(true);
  });

  it('on close() writes what the output takes at once, drops the rest, and ends finish() with false', async () => {
    const { writer, output, lsr, thr } = com1(16);
    while (lsr() & uart.LSR_THR_EMPTY) thr(0x41);
    const finished = output.finish();
    writer.room = 5;
    output.close();
    await expect(finished).resolves.toBe(false);
    expect(writer.taken).toHaveLength(5);
    expect(writer.closed).toBe(true);
    await expect(output.finish()).resolves.toBe(false);
  });

  it('reports a failed output once and drops what follows, so the guest is never stuck', async () => {
    const { writer, reports, output, lsr, thr } = com1(16);
    writer.failWith = Object.assign(new Error('EPIPE: broken pipe, write'), { code: 'EPIPE' });
    for (let i = 0; i < 500; i++) {
      await until(() => (lsr() & uart.LSR_THR_EMPTY) !== 0, 'THR empty');
      thr(i & 0xff);
    }
    await expect(output.finish()).resolves.toBe(true);
    expect(reports).toEqual(["writing the guest's serial output failed (EPIPE): what the guest prints from now on is dropped."]);
  });

  it('lets the event loop run between writes while the guest prints without pause', async () => {
    const { writer, output, lsr, thr } = com1(4096);
    writer.allow(Infinity);
    for (let i = 0; i < 4096; i++) thr(i & 0xff);
    expect(lsr() & uart.LSR_THR_EMPTY).toBe(uart.LSR_THR_EMPTY);
    let timerRan = false;
    setTimeout(() => (timerRan = true), 0);
    writer.room = 1; // one byte per write: 4096 steps
    const refill = setInterval(() => (writer.room = 1), 0);
    await until(() => timerRan, 'the timer');
    expect(writer.taken.length).toBeLessThan(4096);
    clearInterval(refill);
    writer.allow(Infinity);
    await expect(output.finish()).resolves.toBe(true);
  });

  it('carries the bytes of drivers on two other threads through one UART, each stream in order, none lost or doubled', async () => {
    const ring = OutputRing.create(256);
    const state = new SharedState(uart.UART_STATE_WORDS);
    const device = new uart.Uart16550({ irq: { setLevel() {} }, output: ring, state });
    device.write(uart.UART_FCR, Uint8Array.of(uart.FCR_ENABLE));
    const writer = new TestWriter();
    const output = new SerialOutput(ring, device, writer, () => {});
    output.start();
    const count = 20_000;
    const guestLock = new SharedArrayBuffer(4);
    const drivers = [0x00, 0x80].map(
      (tag) =>
        new Worker(new URL('./uart-driver-worker.mjs', import.meta.url), {
          workerData: { uartState: state.buffer, ring: ring.buffer, guestLock, tag, count },
        }),
    );
    let failure: unknown;
    for (const driver of drivers) driver.once('error', (error) => (failure ??= error));
    const ended = Promise.all(drivers.map((driver) => new Promise((resolve) => driver.once('exit', resolve))));
    // The reader takes what it likes when it likes: the drivers are held back again and again.
    while (writer.taken.length < 2 * count) {
      if (failure) throw failure; // a driver that failed (say, dist/ not built) ends the test now, not at its time limit
      writer.allow(Math.floor(Math.random() * 300));
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    await ended;
    await expect(output.finish()).resolves.toBe(true);
    const streams: number[][] = [[], []];
    for (const byte of writer.taken) streams[byte >> 7]?.push(byte & 0x7f);
    for (const stream of streams) expect(stream).toEqual(Array.from({ length: count }, (_, i) => i & 0x7f));
  }, 30_000);
});
