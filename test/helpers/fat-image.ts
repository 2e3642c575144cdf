/**
 * FAT32 disk images for tests, made by the real tools (mkfs.vfat formats, mmd and mcopy fill),
 * and the few on-disk fields needed to damage them on purpose.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';

const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1', PATH: `${process.env['PATH'] ?? ''}:/usr/sbin:/sbin` };

/** A 40 MiB FAT32 image at `folder/name` (sparse; 512-byte clusters) holding `files` (absolute path inside -> bytes). */
export function makeFatImage(folder: string, name: string, files: Readonly<Record<string, Uint8Array>>): string {
  const path = join(folder, name);
  execFileSync('truncate', ['-s', '40M', path]);
  execFileSync('mkfs.vfat', ['-F', '32', '-s', '1', '-n', 'TSVISOR', path], { stdio: 'ignore', env: MTOOLS_ENV });
  for (const [inside, bytes] of Object.entries(files)) {
    const host = join(folder, `staged-${name}-${inside.replace(/\//g, '_')}`);
    writeFileSync(host, bytes);
    const parts = inside.split('/').slice(1, -1);
    for (let i = 1; i <= parts.length; i++) execFileSync('mmd', ['-D', 's', '-i', path, `::/${parts.slice(0, i).join('/')}`], { stdio: 'ignore', env: MTOOLS_ENV });
    execFileSync('mcopy', ['-i', path, host, `::${inside}`], { env: MTOOLS_ENV });
  }
  return path;
}

export function readBytes(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const bytes = new Uint8Array(length);
    readSync(fd, bytes, 0, length, offset);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

export function writeBytes(path: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** Where cluster `cluster`'s entry is in each FAT of the image. */
export function fatEntryOffsets(path: string, cluster: number): number[] {
  const boot = new DataView(readBytes(path, 0, 512).buffer);
  const bytesPerSector = boot.getUint16(0x0b, true);
  const reserved = boot.getUint16(0x0e, true);
  const fatCount = boot.getUint8(0x10);
  const fatSectors = boot.getUint32(0x24, true);
  return Array.from({ length: fatCount }, (_, fat) => (reserved + fat * fatSectors) * bytesPerSector + cluster * 4);
}

/** The first cluster of the file whose 8.3 name (space-padded, 11 bytes) is in the root directory; the root is cluster 2 after mkfs.vfat. */
export function firstClusterOf(path: string, shortName: string): number {
  const boot = new DataView(readBytes(path, 0, 512).buffer);
  const bytesPerSector = boot.getUint16(0x0b, true);
  const dataOffset = (boot.getUint16(0x0e, true) + boot.getUint8(0x10) * boot.getUint32(0x24, true)) * bytesPerSector;
  const root = readBytes(path, dataOffset, bytesPerSector * boot.getUint8(0x0d));
  const view = new DataView(root.buffer);
  for (let at = 0; at < root.length; at += 32) {
    if (new TextDecoder('latin1').decode(root.subarray(at, at + 11)) === shortName) {
      return view.getUint16(at + 0x14, true) * 0x10000 + view.getUint16(at + 0x1a, true);
    }
  }
  throw new Error(`no ${shortName} in the root directory of ${path}`);
}

/** Marks cluster `cluster` free in every FAT: a chain through it is broken there. */
export function freeCluster(path: string, cluster: number): void {
  for (const offset of fatEntryOffsets(path, cluster)) writeBytes(path, offset, new Uint8Array(4));
}
