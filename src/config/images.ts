/**
 * The images a config names (BIOS, kernel, ramdisk, DTB, and the multiboot modules of
 * [tsvisor] modules): where their bytes come from, how big they are, and whether each fits,
 * whole, in guest RAM without overlapping another.
 *
 * `image_location = "memory"` (and a config that does not say) reads host files, relative
 * to the config's folder. `image_location = "fs"` reads from the FAT32 disk image AxVisor
 * would mount, `disk_path` or a `disk.img` beside the config, by absolute path inside it;
 * with no disk image it reads host files too.
 */
import { closeSync, existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { InputFileError, openRegularFile } from '../host/regular-file.js';
import { Fat32Error, Fat32Volume } from '../images/fat32.js';
import { describeImageSource } from '../images/image-source.js';
import { MAX_IMAGE_BYTES } from '../images/read-image.js';
import type { ConfigSource, Table } from './config-source.js';
import { firstOverlap, lastStartingAtOrBelow, span } from './memory-regions.js';
import { readModuleEntries } from './multiboot-modules.js';
import type { ImageRole, ImageSource, ImageSpec, MemoryRegionSpec } from './vm-spec.js';

const IMAGE_KEYS: readonly { role: ImageRole; pathKey: string; addressKey: string }[] = [
  { role: 'bios', pathKey: 'bios_path', addressKey: 'bios_load_addr' },
  { role: 'kernel', pathKey: 'kernel_path', addressKey: 'kernel_load_addr' },
  { role: 'ramdisk', pathKey: 'ramdisk_path', addressKey: 'ramdisk_load_addr' },
  { role: 'dtb', pathKey: 'dtb_path', addressKey: 'dtb_load_addr' },
];

/** The default disk image AxVisor mounts, looked for beside the config. */
const DEFAULT_DISK = 'disk.img';

interface Disk {
  readonly path: string;
  readonly volume: Fat32Volume;
}

/** An image the config names: where its bytes are, and the load address it gives. */
export interface LocatedImage {
  readonly role: ImageRole;
  readonly keyPath: string;
  readonly addressKey: string;
  readonly source: ImageSource;
  readonly size: number;
  readonly loadAddress: bigint;
  /** For a multiboot module (the ramdisk, [tsvisor] modules): its string in the multiboot information. */
  readonly moduleString?: string;
}

/** Finds every image the config names (the built-in BIOS is not one of them). */
export function locateImages(source: ConfigSource, kernel: Table): LocatedImage[] {
  const location =
    kernel.image_location === undefined
      ? 'memory'
      : source.choice(kernel.image_location, 'kernel.image_location', { fs: 'fs', memory: 'memory' } as const);
  if (location === 'memory' && kernel.disk_path !== undefined) {
    source.warn('kernel.disk_path', 'is read only with image_location = "fs"; the images are host files here.');
  }
  const disk = location === 'fs' ? openDisk(source, kernel) : undefined;
  const images: LocatedImage[] = [];
  const find = (name: string, keyPath: string, { allowEmpty }: { allowEmpty: boolean }) =>
    disk ? findOnDisk(source, disk, name, keyPath) : findOnHost(source, name, keyPath, location, allowEmpty);
  try {
    for (const { role, pathKey, addressKey } of IMAGE_KEYS) {
      if (kernel[pathKey] === undefined && role !== 'kernel') {
        if (kernel[addressKey] !== undefined && role !== 'bios') source.warn(`kernel.${addressKey}`, `is set but ${pathKey} is not, so nothing is loaded there.`);
        continue;
      }
      const name = source.string(source.required(kernel, 'kernel', pathKey), `kernel.${pathKey}`);
      const loadAddress = source.bigInteger(source.required(kernel, 'kernel', addressKey), `kernel.${addressKey}`, { max: 2n ** 64n - 1n });
      const found = find(name, `kernel.${pathKey}`, { allowEmpty: false });
      // The ramdisk is the first multiboot module, its file name its string.
      const moduleString = role === 'ramdisk' ? { moduleString: basename(found.source.path) } : {};
      images.push({ role, keyPath: `kernel.${pathKey}`, addressKey: `kernel.${addressKey}`, ...found, loadAddress, ...moduleString });
    }
    for (const module of readModuleEntries(source)) {
      const found = find(module.name, module.keyPath, { allowEmpty: true });
      images.push({ role: 'module', keyPath: module.keyPath, addressKey: module.addressKey, ...found, loadAddress: module.loadAddress, moduleString: module.string });
    }
  } finally {
    disk?.volume.close();
  }
  return images;
}

function openDisk(source: ConfigSource, kernel: Table): Disk | undefined {
  const given = kernel.disk_path !== undefined;
  const path = given
    ? resolve(source.folder, source.string(kernel.disk_path, 'kernel.disk_path'))
    : join(source.folder, DEFAULT_DISK);
  if (!given && !existsSync(path)) return undefined;
  const keyPath = given ? 'kernel.disk_path' : 'kernel.image_location';
  if (given && !existsSync(path)) {
    throw source.error(keyPath, `the disk image does not exist (looked for ${path}).`, 'Point disk_path at the FAT32 disk image holding the guest images, relative to the config\'s folder.');
  }
  try {
    return { path, volume: Fat32Volume.open(path) };
  } catch (error) {
    if (!(error instanceof Fat32Error)) throw error;
    throw source.error(keyPath, `the disk image ${path} cannot be read: ${error.message}`, 'Give a FAT32 image (mkfs.vfat -F 32), or set image_location = "memory" to read host files.');
  }
}

function findOnDisk(source: ConfigSource, disk: Disk, name: string, keyPath: string): { source: ImageSource; size: number } {
  const inside = name.startsWith('/') ? name : `/${name}`;
  let file;
  try {
    // The whole cluster chain is walked, as run's load does: check refuses what run cannot load.
    file = disk.volume.find(inside) && disk.volume.checkFile(inside);
  } catch (error) {
    if (!(error instanceof Fat32Error)) throw error;
    throw source.error(keyPath, `the disk image ${disk.path} cannot be read: ${error.message}`, 'Recreate the disk image with mkfs.vfat -F 32.');
  }
  if (!file) {
    throw source.error(
      keyPath,
      `the image is not in the disk image (looked for ${inside} in ${disk.path}).`,
      `Copy it there (mcopy -i ${disk.path} <file> ::${inside}), fix the path (absolute inside the disk image), or set image_location = "memory" to read host files. ${whereImagesComeFrom(name, inside)}`,
    );
  }
  refuseOversized(source, keyPath, `${file.path} in ${disk.path}`, file.size);
  return { source: { kind: 'disk', disk: disk.path, path: inside }, size: file.size };
}

function findOnHost(source: ConfigSource, name: string, keyPath: string, location: string, allowEmpty: boolean): { source: ImageSource; size: number } {
  const path = resolve(source.folder, name);
  let size: number;
  try {
    // Opened, not only stat()ed, as run's load opens it: a file run could not open fails check too.
    const file = openRegularFile(path);
    closeSync(file.fd);
    size = file.size;
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    if (!error.missing) throw source.error(keyPath, `the image ${path} ${error.problem}.`, 'Point it at the built image file.');
    const diskNote =
      location === 'fs' ? ` There is no disk image to look in either (kernel.disk_path is not set and ${join(source.folder, DEFAULT_DISK)} does not exist).` : '';
    throw source.error(
      keyPath,
      `the image does not exist (looked for ${path}).${diskNote}`,
      whereImagesComeFrom(name, path),
    );
  }
  if (size === 0 && !allowEmpty) throw source.error(keyPath, `the image ${path} is empty.`, 'Point it at the built image.');
  refuseOversized(source, keyPath, path, size);
  return { source: { kind: 'host', path }, size };
}

function refuseOversized(source: ConfigSource, keyPath: string, described: string, size: number): void {
  if (size > MAX_IMAGE_BYTES) {
    throw source.error(keyPath, `the image ${described} is ${size} bytes, more than the ${MAX_IMAGE_BYTES} bytes (2 GiB - 1) tsvisor loads.`, 'Point it at the guest image itself.');
  }
}

/** A range tsvisor itself writes into guest memory (the multiboot information, boot tables). */
export interface BootArea {
  readonly name: string;
  /** The key that causes it, for messages. */
  readonly keyPath: string;
  readonly base: number;
  readonly size: number;
}

/**
 * Every image segment and boot area must lie whole in one RAM region and overlap nothing
 * else: an error names the piece, where it would go, and what it collides with.
 */
export function checkPlacement(source: ConfigSource, images: readonly ImageSpec[], areas: readonly BootArea[], regions: readonly MemoryRegionSpec[]): void {
  const ram = regions.filter((region) => region.mapType !== 'reserved');
  // The areas come first, so that a clash is reported at the image, which the user can move.
  const pieces = [
    ...areas.map((area) => ({
      name: area.name,
      keyPath: area.keyPath,
      gpa: area.base,
      size: area.size,
      fix: 'This boot needs RAM there: add a memory region (MAP_ALLOC) that covers it.',
    })),
    ...images.flatMap((image) =>
      image.segments.map((segment, index) => ({
        name: image.segments.length > 1 ? `segment ${index} of the ${image.role} image` : image.role === 'module' ? `the module ${describeImageSource(image.source)}` : `the ${image.role} image`,
        keyPath: image.addressKey ?? image.keyPath,
        gpa: segment.gpa,
        size: segment.memSize,
        fix: 'Load it where one memory region (MAP_ALLOC or MAP_IDENTICAL) has room for all of it, or enlarge the region.',
      })),
    ),
  ];
  // Sorted once and searched, not scanned per piece: a config can name tens of thousands of regions and modules.
  const sortedRam = [...ram].sort((a, b) => a.gpa - b.gpa);
  for (const piece of pieces) {
    const region = lastStartingAtOrBelow(sortedRam, piece.gpa);
    if (!region || piece.gpa + piece.size > region.gpa + region.size) {
      throw source.error(
        piece.keyPath,
        `${piece.name} (${piece.size} bytes) would occupy ${span(piece)}, which is not inside one RAM region (RAM: ${ram.length ? ram.map(span).join(', ') : 'none'}).`,
        piece.fix,
      );
    }
  }
  const clashing = firstOverlap(pieces.filter((piece) => piece.size > 0)) ?? firstEmptyInside(pieces);
  if (clashing) {
    const [piece, clash] = clashing;
    throw source.error(piece.keyPath, `${piece.name} (${span(piece)}) overlaps ${clash.name} (${span(clash)}).`, 'Load the images at addresses that do not overlap, and keep them clear of the areas tsvisor writes.');
  }
}

/**
 * An empty piece (an empty multiboot module: a place, no bytes) strictly inside another,
 * and that other; the pieces with bytes are already known to be disjoint.
 */
function firstEmptyInside<T extends { gpa: number; size: number }>(pieces: readonly T[]): [T, T] | undefined {
  const sorted = pieces.filter((piece) => piece.size > 0).sort((a, b) => a.gpa - b.gpa);
  for (const piece of pieces) {
    if (piece.size > 0) continue;
    const holder = lastStartingAtOrBelow(sorted, piece.gpa - 1);
    if (holder && piece.gpa < holder.gpa + holder.size) return [piece, holder];
  }
  return undefined;
}

/** Where a missing image comes from, for the images AxVisor users name most. */
function whereImagesComeFrom(name: string, path: string): string {
  if (/axvm-bios/i.test(name)) {
    return `axvm-bios.bin is AxVisor's BIOS stub (build it from github.com/arceos-hypervisor/axvm-bios-x86 and put it at ${path}), or remove bios_path and bios_load_addr and set enable_bios = true to use tsvisor's own stub.`;
  }
  if (/arceos/i.test(name)) {
    return `The ArceOS image comes from building ArceOS for x86_64: in an ArceOS checkout run \`make A=examples/helloworld ARCH=x86_64\` and copy the .bin to ${path}.`;
  }
  if (name.includes('guests/build/')) return 'The guests in guests/ are built by `npm install` (or `npm run build:guests`).';
  return 'Relative paths are relative to the config file\'s folder.';
}
