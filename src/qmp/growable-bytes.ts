/** A byte array that grows by doubling: how the lexer and the streamer hold what they have read so far, at about one byte per byte. */
export class GrowableBytes {
  private bytes = new Uint8Array(64);
  length = 0;

  push(byte: number): void {
    if (this.length === this.bytes.length) this.grow(this.length + 1);
    this.bytes[this.length++] = byte;
  }

  append(more: Uint8Array): void {
    if (this.length + more.length > this.bytes.length) this.grow(this.length + more.length);
    this.bytes.set(more, this.length);
    this.length += more.length;
  }

  /** The bytes held, as a view that the next change may invalidate. */
  view(start = 0, end = this.length): Uint8Array {
    return this.bytes.subarray(start, end);
  }

  /** Empties it, and gives back the memory of a large one. */
  clear(): void {
    this.length = 0;
    if (this.bytes.length > 4096) this.bytes = new Uint8Array(64);
  }

  private grow(needed: number): void {
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.bytes.subarray(0, this.length));
    this.bytes = bigger;
  }
}
