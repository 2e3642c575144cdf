/** The host side's output buffer of a serial line: bounded, in order, and the wake-ups between its two sides. */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { OUTPUT_RING_BYTES, OutputRing } from '../../src/devices/output-ring.js';

const offerAll = (ring: OutputRing, bytes: number[]) => bytes.map((byte) => ring.offer(byte));
const drainAll = (ring: OutputRing) => {
  const out: number[] = [];
  for (let bytes = ring.readable(); bytes.length > 0; bytes = ring.readable()) {
    out.push(...bytes);
    ring.consume(bytes.length);
  }
  return out;
};

describe('OutputRing', () => {
  it('is 16 KiB unless told otherwise, and only a power of two', () => {
    expect(OutputRing.create().capacity).toBe(OUTPUT_RING_BYTES);
    expect(OUTPUT_RING_BYTES).toBe(16 * 1024);
    for (const bad of [0, 3, 100, -8, 1.5]) expect(() => OutputRing.create(bad)).toThrow(RangeError);
  });

  it('takes bytes up to its capacity and refuses the rest: memory stays bounded', () => {
    const ring = OutputRing.create(8);
    expect(offerAll(ring, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10])).toEqual([true, true, true, true, true, true, true, true, false, false]);
    expect(ring.size).toBe(8);
    expect(drainAll(ring)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('hands out the oldest bytes first, in at most two views across its end', () => {
    const ring = OutputRing.create(8);
    offerAll(ring, [1, 2, 3, 4, 5, 6]);
    ring.consume(5);
    offerAll(ring, [7, 8, 9, 10, 11]); // 6..11: wraps after 8
    expect([...ring.readable()]).toEqual([6, 7, 8]);
    ring.consume(2);
    expect([...ring.readable()]).toEqual([8]);
    ring.consume(1);
    expect([...ring.readable()]).toEqual([9, 10, 11]);
  });

  it('refuses to consume more than it holds', () => {
    const ring = OutputRing.create(8);
    offerAll(ring, [1, 2]);
    expect(() => ring.consume(3)).toThrow(RangeError);
    expect(() => ring.consume(-1)).toThrow(RangeError);
  });

  it('remembers a refusal until the drainer takes it, once', () => {
    const ring = OutputRing.create(4);
    expect(ring.takeRefused()).toBe(false);
    offerAll(ring, [1, 2, 3, 4, 5]);
    ring.consume(4);
    expect(ring.takeRefused()).toBe(true);
    expect(ring.takeRefused()).toBe(false);
  });

  it('keeps counting right past 2^31 bytes', () => {
    const ring = OutputRing.create(4);
    const words = new Int32Array(ring.buffer, 0, 2);
    words[0] = words[1] = 0x7fff_fffe; // HEAD and TAIL near the top of an int32
    expect(offerAll(ring, [1, 2, 3, 4, 5])).toEqual([true, true, true, true, false]);
    expect(drainAll(ring)).toEqual([1, 2, 3, 4]);
    expect(offerAll(ring, [6])).toEqual([true]);
    expect(drainAll(ring)).toEqual([6]);
  });

  it('lets the drainer sleep on an empty ring until a producer offers a byte and wakes it', async () => {
    const ring = OutputRing.create(8);
    ring.offer(1);
    expect(ring.waitForData()).toBeUndefined(); // bytes are there
    ring.consume(1);
    const wait = ring.waitForData();
    expect(wait).toBeInstanceOf(Promise);
    let woken = false;
    void wait?.then(() => (woken = true));
    ring.offer(2);
    ring.wakeDrainer();
    await wait;
    expect(woken).toBe(true);
  });

  it('ends a drainer\'s wait on request (to finish or close)', async () => {
    const ring = OutputRing.create(8);
    const wait = ring.waitForData();
    ring.interruptWait();
    await expect(wait).resolves.toBeUndefined();
  });

  it('never sleeps through a producer on another thread, whose wakes come just as the drainer goes to sleep', async () => {
    const ring = OutputRing.create(64);
    const count = 50_000;
    const producer = new Worker(new URL('./ring-producer-worker.mjs', import.meta.url), { workerData: { buffer: ring.buffer, count } });
    let failure: unknown;
    producer.once('error', (error) => (failure = error));
    const received: number[] = [];
    // The drainer of vmm/serial-output.ts, reduced to its waits: each step drains, then yields
    // to the event loop, or sleeps until a producer wakes it.
    await new Promise<void>((resolve, reject) => {
      const limit = setTimeout(() => reject(new Error(`the drainer slept with ${ring.size} bytes waiting, after ${received.length} of ${count}`)), 20_000);
      const step = () => {
        if (failure) return reject(failure);
        const bytes = ring.readable();
        if (bytes.length > 0) {
          received.push(...bytes);
          ring.consume(bytes.length);
          if (received.length === count) {
            clearTimeout(limit);
            return resolve();
          }
          return void setImmediate(step);
        }
        const wait = ring.waitForData();
        if (wait) void wait.then(step);
        else setImmediate(step);
      };
      step();
    });
    expect(received.every((byte, i) => byte === (i & 0xff))).toBe(true);
  }, 30_000);
});
