/** Loading a flat image: the file's bytes, copied to their load address in guest RAM. */
import { readFileSync } from 'node:fs';
import { TsvisorError, hex } from '../errors.js';
import type { GuestMemory } from '../memory/guest-memory.js';

export class ImageError extends TsvisorError {
  override name = 'ImageError';
}

/** Copies the image file at `path` into guest memory at `loadAddress` and returns its size. */
export function loadFlatImage(memory: GuestMemory, image: { readonly path: string; readonly loadAddress: number }): number {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(image.path);
  } catch (error) {
    throw new ImageError(`Cannot read the kernel image ${image.path}: ${(error as Error).message}. Check that the file exists and is readable.`);
  }
  if (!memory.contains(image.loadAddress, bytes.length)) {
    throw new ImageError(
      `The kernel image ${image.path} (${bytes.length} bytes) does not fit in guest RAM at ${hex(image.loadAddress)}: RAM is ${memory.describe()}. Load it elsewhere or enlarge the memory region.`,
    );
  }
  memory.write(image.loadAddress, bytes);
  return bytes.length;
}
