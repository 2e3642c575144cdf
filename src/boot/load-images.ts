/** Loading images: each segment's bytes copied to its guest address, the rest of its memory size zeroed. */
import { TsvisorError, hex } from '../errors.js';
import { describeImageSource, type ImageSource } from '../images/image-source.js';
import { readImage } from '../images/read-image.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import type { ImageSegment } from './image-format.js';

export interface LoadableImage {
  readonly role: string;
  readonly source: ImageSource;
  readonly size: number;
  readonly segments: readonly ImageSegment[];
}

export class ImageError extends TsvisorError {
  override name = 'ImageError';
}

export function loadImages(memory: GuestMemory, images: readonly LoadableImage[]): void {
  for (const image of images) {
    const bytes = readImage(image.source);
    // The config layer planned the segments from this file; it may have changed since.
    if (bytes.length !== image.size) {
      throw new ImageError(
        `The ${image.role} image ${describeImageSource(image.source)} changed while tsvisor started (${image.size} bytes when checked, ${bytes.length} now). Run the VM again.`,
      );
    }
    for (const segment of image.segments) {
      if (segment.memSize === 0) continue; // an empty multiboot module: a place, no bytes
      if (!memory.contains(segment.gpa, segment.memSize)) {
        throw new ImageError(`A segment of the ${image.role} image does not fit in guest RAM at ${hex(segment.gpa)}: RAM is ${memory.describe()}.`);
      }
      memory.write(segment.gpa, bytes.subarray(segment.offset, segment.offset + segment.fileSize));
      if (segment.memSize > segment.fileSize) memory.write(segment.gpa + segment.fileSize, new Uint8Array(segment.memSize - segment.fileSize));
    }
  }
}
