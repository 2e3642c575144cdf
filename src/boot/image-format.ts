/**
 * What a kernel image is, and where its bytes go: a loadable segment list and an entry
 * point, from the image's own headers. Pure functions over the image bytes; a malformed
 * image is an ImageFormatError that says what is wrong with it.
 *
 * An image can be given whole (a Uint8Array) or as an ImageFile that reads pieces of it: the
 * headers are then read and checked without reading the rest, so a huge image is refused by
 * its size before its bytes are read.
 */
import { TsvisorError } from '../errors.js';

/** A piece of an image file copied into guest memory; bytes past fileSize up to memSize are zeroed (bss). */
export interface ImageSegment {
  readonly gpa: number;
  readonly offset: number;
  readonly fileSize: number;
  readonly memSize: number;
}

/**
 * A malformed image. Its message is a clause ("it is not an ELF file") that the config layer
 * puts in a sentence naming the image and the key; it is a TsvisorError so that even
 * unwrapped it is a user's bad input, not a bug.
 */
export class ImageFormatError extends TsvisorError {
  override name = 'ImageFormatError';
}

/** An image read in pieces: its size, and `length` bytes at `offset` (inside the size). */
export interface ImageFile {
  readonly size: number;
  read(offset: number, length: number): Uint8Array;
}

export function imageFileOf(image: Uint8Array | ImageFile): ImageFile {
  if (!(image instanceof Uint8Array)) return image;
  return { size: image.length, read: (offset, length) => image.subarray(offset, offset + length) };
}

/** Checks that `what` (bytes offset..offset+size-1) lies inside a file of `fileSize` bytes. */
export function requireInFile(fileSize: number, offset: number, size: number, what: string): void {
  if (offset < 0 || offset + size > fileSize) {
    throw new ImageFormatError(`the file is truncated: ${what} needs bytes ${offset}-${offset + size - 1}, but the file has ${fileSize}`);
  }
}

/** "0x1000-0x1fff, 0x200000-0x2001ff", at most `limit` of them, for messages. */
export function describeSegments(segments: readonly ImageSegment[], limit = 8): string {
  const listed = segments.slice(0, limit).map((segment) => `0x${segment.gpa.toString(16)}-0x${(segment.gpa + segment.memSize - 1).toString(16)}`);
  return segments.length > limit ? `${listed.join(', ')} and ${segments.length - limit} more` : listed.join(', ');
}

/** True when `address` is the address of a byte some segment loads. */
export function insideSegment(address: number, segments: readonly ImageSegment[]): boolean {
  return segments.some((segment) => address >= segment.gpa && address < segment.gpa + segment.memSize);
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
    requireInFile(this.bytes.length, offset, size, what);
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
