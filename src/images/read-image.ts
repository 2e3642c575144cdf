/** The bytes of an image, from a host file or from a file inside a FAT32 disk image. */
import { readFileSync } from 'node:fs';
import { TsvisorError } from '../errors.js';
import type { ImageSource } from './image-source.js';
import { Fat32Volume } from './fat32.js';

export function readImage(source: ImageSource): Uint8Array {
  if (source.kind === 'disk') {
    const volume = Fat32Volume.open(source.disk);
    try {
      return volume.readFile(source.path);
    } finally {
      volume.close();
    }
  }
  try {
    return readFileSync(source.path);
  } catch (error) {
    throw new TsvisorError(`Cannot read the image ${source.path}: ${(error as NodeJS.ErrnoException).code ?? error}. Check that the file exists and is readable.`);
  }
}
