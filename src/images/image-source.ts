/** Where an image's bytes come from: a host file, or a file inside a FAT32 disk image. */
export type ImageSource =
  | { readonly kind: 'host'; readonly path: string }
  | { readonly kind: 'disk'; readonly disk: string; readonly path: string };

/** "/abs/kernel.bin", or "/boot/kernel.bin in /abs/disk.img". */
export function describeImageSource(source: ImageSource): string {
  return source.kind === 'host' ? source.path : `${source.path} in ${source.disk}`;
}
