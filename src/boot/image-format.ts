/**
 * What a kernel image is, and where its bytes go: a loadable segment list and an entry
 * point, from the image's own headers. Pure functions over the image bytes; a malformed
 * image is an ImageFormatError that says what is wrong with it.
 */

/** A piece of an image file copied into guest memory; bytes past fileSize up to memSize are zeroed (bss). */
export interface ImageSegment {
  readonly gpa: number;
  readonly offset: number;
  readonly fileSize: number;
  readonly memSize: number;
}

export class ImageFormatError extends Error {
  override name = 'ImageFormatError';
}

/** The whole file at one address. */
export function flatSegments(size: number, gpa: number): ImageSegment[] {
  return [{ gpa, offset: 0, fileSize: size, memSize: size }];
}

/** Reads little-endian fields with a bounds check that names the structure being read. */
export class ImageReader {
  private readonly view: DataView;

  constructor(readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get length(): number {
    return this.bytes.length;
  }

  require(offset: number, size: number, what: string): void {
    if (offset < 0 || offset + size > this.bytes.length) {
      throw new ImageFormatError(`the file is truncated: ${what} needs bytes ${offset}-${offset + size - 1}, but the file has ${this.bytes.length}`);
    }
  }

  u8(offset: number): number {
    return this.view.getUint8(offset);
  }
  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }
  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }
  /** A u64 as a number; values past 2^53 cannot be guest addresses, so they are refused. */
  u64(offset: number, what: string): number {
    const value = this.view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new ImageFormatError(`${what} is 0x${value.toString(16)}, beyond any guest address`);
    return Number(value);
  }
}
