/**
 * The bytes of an image, from a host file or from a file inside a FAT32 disk image: whole (to
 * load it), or a piece (a kernel's headers, read before its size is checked against RAM).
 * Host files are opened as regular files only (host/regular-file.ts).
 */
import { closeSync } from 'node:fs';
import { TsvisorError } from '../errors.js';
import { InputFileError, openRegularFile, readFileRange, readRegularFile } from '../host/regular-file.js';
import type { ImageSource } from './image-source.js';
import { Fat32Volume } from './fat32.js';

/**
 * Node reads at most 2 GiB - 1 bytes in one call, and a guest image that large is surely a
 * wrong path: the config layer refuses a bigger one by its size, before any byte is read.
 */
export const MAX_IMAGE_BYTES = 2 ** 31 - 1;

export function readImage(source: ImageSource): Uint8Array {
  if (source.kind === 'disk') return withVolume(source.disk, (volume) => volume.readFile(source.path));
  try {
    return readRegularFile(source.path, MAX_IMAGE_BYTES, 'an image');
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    // The system's refusal by its errno name, as before regular-file.ts; what the path is instead, in words.
    if (error.code) throw new TsvisorError(`Cannot read the image ${source.path}: ${error.code}. Check that the file exists and is readable.`);
    throw new TsvisorError(`Cannot read the image ${source.path}: it ${error.problem}. ${error.fix}`);
  }
}

/** `length` bytes at `offset` of an image; the caller keeps the range inside the image's size. */
export function readImageRange(source: ImageSource, offset: number, length: number): Uint8Array {
  if (source.kind === 'disk') return withVolume(source.disk, (volume) => volume.readFileRange(source.path, offset, length));
  const file = openRegularFile(source.path);
  try {
    return readFileRange(source.path, file.fd, offset, length);
  } finally {
    closeSync(file.fd);
  }
}

function withVolume<T>(disk: string, use: (volume: Fat32Volume) => T): T {
  const volume = Fat32Volume.open(disk);
  try {
    return use(volume);
  } finally {
    volume.close();
  }
}
