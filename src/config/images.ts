/**
 * The images a config names (BIOS, kernel, ramdisk, DTB): where their bytes come from, how
 * big they are, and whether each fits, whole, in guest RAM without overlapping another.
 *
 * `image_location = "memory"` (and a config that does not say) reads host files, relative
 * to the config's folder. `image_location = "fs"` reads from the FAT32 disk image AxVisor
 * would mount, `disk_path` or a `disk.img` beside the config, by absolute path inside it;
 * with no disk image it reads host files too.
 */
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { hex } from '../errors.js';
import { Fat32Error, Fat32Volume } from '../images/fat32.js';
import type { ConfigSource, Table } from './config-source.js';
import { overlaps, span } from './memory-regions.js';
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

export function readImages(source: ConfigSource, kernel: Table, regions: readonly MemoryRegionSpec[]): ImageSpec[] {
  const location =
    kernel.image_location === undefined
      ? 'memory'
      : source.choice(kernel.image_location, 'kernel.image_location', { fs: 'fs', memory: 'memory' } as const);
  if (location === 'memory' && kernel.disk_path !== undefined) {
    source.warn('kernel.disk_path', 'is read only with image_location = "fs"; the images are host files here.');
  }
  const disk = location === 'fs' ? openDisk(source, kernel) : undefined;
  const images: ImageSpec[] = [];
  try {
    for (const { role, pathKey, addressKey } of IMAGE_KEYS) {
      const hasPath = kernel[pathKey] !== undefined || role === 'kernel';
      if (!hasPath) {
        if (kernel[addressKey] !== undefined) source.warn(`kernel.${addressKey}`, `is set but ${pathKey} is not, so nothing is loaded there.`);
        continue;
      }
      const name = source.string(source.required(kernel, 'kernel', pathKey), `kernel.${pathKey}`);
      const address = source.bigInteger(source.required(kernel, 'kernel', addressKey), `kernel.${addressKey}`, { max: 2n ** 64n - 1n });
      const found = disk ? findOnDisk(source, disk, name, pathKey) : findOnHost(source, name, pathKey, location);
      images.push({ role, keyPath: `kernel.${pathKey}`, source: found.source, loadAddress: placeImage(source, address, found.size, addressKey, regions), size: found.size });
    }
  } finally {
    disk?.volume.close();
  }
  checkOverlaps(source, images);
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

function findOnDisk(source: ConfigSource, disk: Disk, name: string, pathKey: string): { source: ImageSource; size: number } {
  const inside = name.startsWith('/') ? name : `/${name}`;
  let file;
  try {
    file = disk.volume.find(inside);
  } catch (error) {
    if (!(error instanceof Fat32Error)) throw error;
    throw source.error(`kernel.${pathKey}`, `the disk image ${disk.path} cannot be read: ${error.message}`, 'Recreate the disk image with mkfs.vfat -F 32.');
  }
  if (!file) {
    throw source.error(
      `kernel.${pathKey}`,
      `the image is not in the disk image (looked for ${inside} in ${disk.path}).`,
      'Copy it there (mcopy -i disk.img file ::/path), fix the path (absolute inside the disk image), or set image_location = "memory" to read host files.',
    );
  }
  return { source: { kind: 'disk', disk: disk.path, path: inside }, size: file.size };
}

function findOnHost(source: ConfigSource, name: string, pathKey: string, location: string): { source: ImageSource; size: number } {
  const path = resolve(source.folder, name);
  let size: number | undefined;
  try {
    const stats = statSync(path);
    if (stats.isFile()) size = stats.size;
  } catch {
    // reported below
  }
  if (size === undefined) {
    const diskNote =
      location === 'fs' ? ` There is no disk image to look in either (kernel.disk_path is not set and ${join(source.folder, DEFAULT_DISK)} does not exist).` : '';
    throw source.error(
      `kernel.${pathKey}`,
      `the image does not exist (looked for ${path}).${diskNote}`,
      name.includes('guests/build/')
        ? 'The guests in guests/ are built by `npm install` (or `npm run build:guests`).'
        : 'Relative paths are relative to the config file\'s folder.',
    );
  }
  if (size === 0) throw source.error(`kernel.${pathKey}`, `the image ${path} is empty.`, 'Point it at the built image.');
  return { source: { kind: 'host', path }, size };
}

/** The load address, once the whole image is known to fit in one RAM region. */
function placeImage(source: ConfigSource, address: bigint, size: number, addressKey: string, regions: readonly MemoryRegionSpec[]): number {
  const ram = regions.filter((region) => region.mapType !== 'reserved');
  const end = address + BigInt(size);
  const fits = ram.some((region) => address >= BigInt(region.gpa) && end <= BigInt(region.gpa + region.size));
  if (!fits) {
    const ramList = ram.length ? ram.map(span).join(', ') : 'none';
    throw source.error(
      `kernel.${addressKey}`,
      `the image (${size} bytes) would occupy ${hex(address)}-${hex(end - 1n)}, which is not inside one RAM region (RAM: ${ramList}).`,
      'Load it where one memory region (MAP_ALLOC or MAP_IDENTICAL) has room for all of it, or enlarge the region.',
    );
  }
  return Number(address);
}

function checkOverlaps(source: ConfigSource, images: readonly ImageSpec[]): void {
  images.forEach((image, index) => {
    const range = { gpa: image.loadAddress, size: image.size };
    const clash = images.slice(0, index).find((other) => overlaps(range, { gpa: other.loadAddress, size: other.size }));
    if (clash) {
      throw source.error(
        image.keyPath.replace('_path', '_load_addr'),
        `the ${image.role} image (${span(range)}) overlaps the ${clash.role} image (${span({ gpa: clash.loadAddress, size: clash.size })}).`,
        'Load the images at addresses that do not overlap.',
      );
    }
  });
}
