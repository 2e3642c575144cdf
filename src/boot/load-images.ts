/** Loading images: each image's bytes, copied to its load address in guest RAM. */
import { TsvisorError, hex } from '../errors.js';
import { describeImageSource, type ImageSource } from '../images/image-source.js';
import { readImage } from '../images/read-image.js';
import type { GuestMemory } from '../memory/guest-memory.js';

export interface LoadableImage {
  readonly role: string;
  readonly source: ImageSource;
  readonly loadAddress: number;
}

export class ImageError extends TsvisorError {
  override name = 'ImageError';
}

/** Copies every image into guest memory. */
export function loadImages(memory: GuestMemory, images: readonly LoadableImage[]): void {
  for (const image of images) {
    const bytes = readImage(image.source);
    // The config layer checked the size; the file may have changed since.
    if (!memory.contains(image.loadAddress, bytes.length)) {
      throw new ImageError(
        `The ${image.role} image ${describeImageSource(image.source)} (${bytes.length} bytes) no longer fits in guest RAM at ${hex(image.loadAddress)}: RAM is ${memory.describe()}. Did the file change? Run the VM again.`,
      );
    }
    memory.write(image.loadAddress, bytes);
  }
}
