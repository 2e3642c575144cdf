/**
 * Device state that every vCPU thread can touch: a block of 32-bit words in a
 * SharedArrayBuffer, with a lock at word 0 for multi-step register updates. Each thread
 * builds its own device object over the same block, so a register written by one vCPU is
 * what another reads.
 *
 * The lock is the three-state futex lock (free, locked, locked with waiters): taking a free
 * lock is one compare-and-swap, and only a contended unlock pays for a notify.
 */

const FREE = 0;
const LOCKED = 1;
const CONTENDED = 2;
/** Word 0 is the lock; device words follow. */
const LOCK = 0;
const FIRST_WORD = 1;

/** This thread's scratch for moving a Number in and out of two words. */
const numberBits = new Float64Array(1);
const numberWords = new Int32Array(numberBits.buffer);

export class SharedState {
  private readonly words: Int32Array;

  /** A block for `wordCount` device words, zeroed (a fresh buffer when none is given, for a device used on one thread). */
  constructor(
    readonly wordCount: number,
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer((wordCount + FIRST_WORD) * 4),
  ) {
    if (buffer.byteLength < (wordCount + FIRST_WORD) * 4) throw new RangeError(`a shared state of ${wordCount} words needs ${(wordCount + FIRST_WORD) * 4} bytes`);
    this.words = new Int32Array(buffer, 0, wordCount + FIRST_WORD);
  }

  get(word: number): number {
    return this.words[FIRST_WORD + word] as number;
  }

  set(word: number, value: number): void {
    this.words[FIRST_WORD + word] = value;
  }

  /** An atomic read, for a reader outside the lock (a sequence word that writers bump under it). */
  load(word: number): number {
    return Atomics.load(this.words, FIRST_WORD + word);
  }

  /** An atomic add, returning the new value: writers bump a sequence word with it under the lock. */
  add(word: number, delta: number): number {
    return Atomics.add(this.words, FIRST_WORD + word, delta) + delta;
  }

  /** A Number (a time in ns, say) kept in two words, `word` and `word + 1`: under the lock. */
  getNumber(word: number): number {
    numberWords[0] = this.get(word);
    numberWords[1] = this.get(word + 1);
    return numberBits[0] as number;
  }

  setNumber(word: number, value: number): void {
    numberBits[0] = value;
    this.set(word, numberWords[0] as number);
    this.set(word + 1, numberWords[1] as number);
  }

  /**
   * A two-word Number published to readers outside the lock (a seqlock, docs/threads.md):
   * the writer, under the lock, makes `sequence` odd, writes both words, and makes it even
   * again; readNumberWithoutLock retries while it is odd or changed under it.
   */
  publishNumber(sequence: number, word: number, value: number): void {
    this.add(sequence, 1);
    this.setNumber(word, value);
    this.add(sequence, 1);
  }

  readNumberWithoutLock(sequence: number, word: number): number {
    for (;;) {
      const before = this.load(sequence);
      if (before & 1) continue; // a writer is between its two words
      numberWords[0] = this.load(word);
      numberWords[1] = this.load(word + 1);
      if (this.load(sequence) === before) return numberBits[0] as number;
    }
  }

  /**
   * Every device word back to 0, but those in `keep` (statistics that outlive a reset, and
   * sequence words that readers outside the lock follow, which must only ever grow): what a
   * device's reset starts from, under the lock.
   */
  zero(keep: readonly number[] = []): void {
    for (let word = 0; word < this.wordCount; word++) if (!keep.includes(word)) this.set(word, 0);
  }

  /** Runs `action` holding the lock. Accesses inside need no atomics: the lock orders them. */
  locked<T>(action: () => T): T {
    const words = this.words;
    let state = Atomics.compareExchange(words, LOCK, FREE, LOCKED);
    if (state !== FREE) {
      if (state !== CONTENDED) state = Atomics.exchange(words, LOCK, CONTENDED);
      while (state !== FREE) {
        Atomics.wait(words, LOCK, CONTENDED);
        state = Atomics.exchange(words, LOCK, CONTENDED);
      }
    }
    try {
      return action();
    } finally {
      if (Atomics.sub(words, LOCK, 1) !== LOCKED) {
        Atomics.store(words, LOCK, FREE);
        Atomics.notify(words, LOCK, 1);
      }
    }
  }
}
