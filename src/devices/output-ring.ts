/**
 * The host side's output buffer of a serial line: a fixed-size byte ring in a SharedArrayBuffer,
 * filled by the device (a UART's transmitter, on whichever vCPU thread the guest writes from)
 * and emptied by one drainer (the main thread, vmm/serial-output.ts). Its size is the most
 * output tsvisor ever holds for the guest: when the ring is full it refuses bytes, and the
 * UART keeps them in its transmitter, busy, until the drainer frees room.
 *
 * The ring has no lock. Producers are serialized by their device's lock (every offer() is made
 * under the UART's lock), so the ring is single-producer, single-consumer: producers publish
 * HEAD, the drainer publishes TAIL, each with a sequentially consistent store after the bytes it
 * wrote or read, so a byte is never read before it is written nor overwritten before it is read.
 *
 * Two flags close the races between them, each written before the other side's counter is read
 * again (so that one of the two always sees the other):
 *   DRAINER_WAITING  the drainer sleeps in waitForData() until HEAD moves; a producer that sees
 *                    it wakes the drainer (wakeDrainer(), called outside the device's lock).
 *                    Only the drainer lowers it, once awake: a producer that lowered it could be
 *                    waking for a byte the drainer had already taken, with the drainer not yet
 *                    asleep; that wake would find no sleeper, and the next byte's producer no
 *                    flag, so the drainer would sleep on a filling ring (the flood guest lost its
 *                    output that way, 4 runs in 10).
 *   REFUSED          a producer found the ring full; the drainer, having freed room, takes the
 *                    flag and tells the device to resume its transmitter.
 */
import type { ByteSink } from './bus-device.js';

/** The ring's size in bytes: a power of two. Enough to ride out a busy main thread; small enough to stay in cache. */
export const OUTPUT_RING_BYTES = 16 * 1024;

// Int32 words at the start of the buffer; the bytes follow.
const HEAD = 0; // bytes ever offered and taken, modulo 2^32 (producers, under the device's lock)
const TAIL = 1; // bytes ever consumed, modulo 2^32 (the drainer)
const DRAINER_WAITING = 2;
const REFUSED = 3;
const HEADER_BYTES = 16;

export class OutputRing implements ByteSink {
  readonly capacity: number;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly mask: number;

  /** A new, empty ring of `capacity` bytes (a power of two). */
  static create(capacity = OUTPUT_RING_BYTES): OutputRing {
    if (!Number.isInteger(capacity) || capacity <= 0 || (capacity & (capacity - 1)) !== 0 || capacity > 1 << 30) {
      throw new RangeError(`an output ring's capacity must be a power of two up to 2^30, not ${capacity}`);
    }
    return new OutputRing(new SharedArrayBuffer(HEADER_BYTES + capacity));
  }

  /** A view of the ring in `buffer` (made by create(), on any thread). */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.capacity = buffer.byteLength - HEADER_BYTES;
    this.mask = this.capacity - 1;
    this.words = new Int32Array(buffer, 0, HEADER_BYTES / 4);
    this.bytes = new Uint8Array(buffer, HEADER_BYTES, this.capacity);
  }

  /** How many bytes wait to be drained. */
  get size(): number {
    return (Atomics.load(this.words, HEAD) - Atomics.load(this.words, TAIL)) | 0;
  }

  // ---- the producer's side: under the device's lock, no waiting, no system call ----

  /** Takes `byte` unless the ring is full. */
  offer(byte: number): boolean {
    const words = this.words;
    const head = words[HEAD] as number; // only producers write HEAD, and the device's lock orders them
    if (((head - Atomics.load(words, TAIL)) | 0) >= this.capacity) {
      // Full. Raise REFUSED before looking at TAIL again: a drainer that freed room in between
      // either shows here, or finds the flag after its TAIL store and resumes the device.
      Atomics.store(words, REFUSED, 1);
      if (((head - Atomics.load(words, TAIL)) | 0) >= this.capacity) return false;
    }
    this.bytes[head & this.mask] = byte;
    Atomics.store(words, HEAD, (head + 1) | 0);
    return true;
  }

  /** Wakes the drainer if it sleeps: called after the device's lock is released, to keep the notify out of it. */
  wakeDrainer(): void {
    if (Atomics.load(this.words, DRAINER_WAITING) !== 0) Atomics.notify(this.words, HEAD);
  }

  // ---- the drainer's side: one thread ----

  /** The oldest bytes waiting, as one contiguous view into the ring (up to its end); empty when there are none. */
  readable(): Uint8Array {
    const tail = this.words[TAIL] as number; // only the drainer writes TAIL
    const waiting = (Atomics.load(this.words, HEAD) - tail) | 0;
    const start = tail & this.mask;
    return this.bytes.subarray(start, start + Math.min(waiting, this.capacity - start));
  }

  /** Frees the oldest `count` bytes (what readable() showed, and the output took). */
  consume(count: number): void {
    const tail = this.words[TAIL] as number;
    if (count < 0 || count > ((Atomics.load(this.words, HEAD) - tail) | 0)) throw new RangeError(`cannot consume ${count} bytes of ${this.size}`);
    Atomics.store(this.words, TAIL, (tail + count) | 0);
  }

  /** True once after a producer was refused for want of room: the drainer then resumes the device. */
  takeRefused(): boolean {
    return Atomics.load(this.words, REFUSED) !== 0 && Atomics.exchange(this.words, REFUSED, 0) !== 0;
  }

  /**
   * Waits for a producer to offer a byte: a promise that settles when HEAD moves (or
   * interruptWait() is called), or undefined when bytes are already there.
   */
  waitForData(): Promise<void> | undefined {
    const words = this.words;
    // Raise the flag before reading HEAD: a producer publishing meanwhile either shows here or sees the flag.
    Atomics.store(words, DRAINER_WAITING, 1);
    const head = Atomics.load(words, HEAD);
    if (head !== words[TAIL]) {
      Atomics.store(words, DRAINER_WAITING, 0);
      return undefined;
    }
    const wait = Atomics.waitAsync(words, HEAD, head);
    if (!wait.async) {
      Atomics.store(words, DRAINER_WAITING, 0);
      return undefined;
    }
    return wait.value.then(() => {
      Atomics.store(words, DRAINER_WAITING, 0);
    });
  }

  /** Ends a drainer's pending waitForData() at once (to finish or close). */
  interruptWait(): void {
    Atomics.notify(this.words, HEAD);
  }
}
