/**
 * Fuzz target: the FAT32 reader, on a valid volume made by mkfs.vfat and mcopy with bytes of
 * its metadata changed (the boot sector, the FSInfo sector, the FAT, the directories).
 * Property: opening the volume, looking files up, reading them whole or in part, and
 * checking their chains give a TsvisorError or a result, within the bounds of
 * fuzz-property.ts; and a config that loads its kernel and ramdisk from the volume is accepted
 * (`tsvisor check`) only when `run` can read every image it names.
 * test/fuzz/corpus/fat32/*.json are changes that once failed, replayed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import { TsvisorError } from '../../src/errors.js';
import { Fat32Volume } from '../../src/images/fat32.js';
import { readImage } from '../../src/images/read-image.js';
import { makeFatImage, readBytes, writeBytes } from '../helpers/fat-image.js';
import { HOST, VALID } from '../config/fixtures.js';
import { FUZZ_TIMEOUT_MS, fuzz, typedOutcome } from './fuzz-property.js';

const CORPUS = new URL('./corpus/fat32/', import.meta.url);
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-fuzz-fat32-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const FILES: Readonly<Record<string, Uint8Array>> = {
  '/kernel.bin': new Uint8Array(0x100).fill(0x90),
  '/boot/ramdisk.bin': Uint8Array.from({ length: 3000 }, (_, i) => i & 0xff),
  '/A-Long-Name-For-A-File.txt': new TextEncoder().encode('long names span several directory entries'),
  '/dir/sub/deep.bin': new Uint8Array(1500).fill(3),
};
const PATHS = [...Object.keys(FILES), '/missing.bin', '/dir', '/dir/sub/', '/DIR/SUB/DEEP.BIN', '/a-long-name-for-a-file.TXT'];
const image = makeFatImage(folder, 'fuzz.img', FILES);

/** The metadata a change can land in: [start, length] in bytes of the image. */
const REGIONS = regionsOf(image);

function regionsOf(path: string): Record<'boot' | 'fsinfo' | 'fat' | 'root' | 'data', readonly [number, number]> {
  const boot = new DataView(readBytes(path, 0, 512).buffer);
  const bytesPerSector = boot.getUint16(0x0b, true);
  const fatOffset = boot.getUint16(0x0e, true) * bytesPerSector;
  const dataOffset = fatOffset + boot.getUint8(0x10) * boot.getUint32(0x24, true) * bytesPerSector;
  return {
    boot: [0, 512],
    fsinfo: [boot.getUint16(0x30, true) * bytesPerSector, 512],
    // The files' chains are in the FAT's first entries, the clusters mtools allocated first.
    fat: [fatOffset, 512],
    root: [dataOffset, 512],
    // Directories made after the root (dir, dir/sub) and the files' first clusters.
    data: [dataOffset + 512, 16 * 512],
  };
}

interface Change {
  readonly region: keyof typeof REGIONS;
  readonly offset: number;
  /** A byte, or (with `wide`) a little-endian u32: cluster numbers and sizes are 32-bit. */
  readonly value: number;
  readonly wide: boolean;
}

const change: fc.Arbitrary<Change> = fc.record({
  region: fc.constantFrom(...(Object.keys(REGIONS) as (keyof typeof REGIONS)[])),
  offset: fc.nat(),
  value: fc.oneof(fc.nat({ max: 255 }), fc.constantFrom(0, 1, 2, 0xffffffff, 0x0ffffff7, 0x0ffffff8, 0x80000000), fc.nat({ max: 2 ** 32 - 1 })),
  wide: fc.boolean(),
});

/** Applies `changes` to the image, runs `check`, and puts the original bytes back. */
function withChanges(changes: readonly Change[], check: () => void): void {
  const saved: [number, Uint8Array][] = [];
  try {
    for (const { region, offset, value, wide } of changes) {
      const [start, length] = REGIONS[region];
      const at = start + (offset % (length - 3));
      saved.push([at, readBytes(image, at, 4)]);
      const bytes = new Uint8Array(4);
      new DataView(bytes.buffer).setUint32(0, value >>> 0, true);
      writeBytes(image, at, wide ? bytes : bytes.subarray(0, 1));
    }
    check();
  } finally {
    for (const [at, bytes] of saved.reverse()) writeBytes(image, at, bytes);
  }
}

function exerciseVolume(): void {
  const volume = typedOutcome(() => Fat32Volume.open(image));
  if (volume instanceof TsvisorError) return;
  try {
    for (const path of PATHS) {
      const found = typedOutcome(() => volume.find(path));
      typedOutcome(() => volume.checkFile(path));
      typedOutcome(() => volume.readFile(path));
      if (found && !(found instanceof TsvisorError) && found.size > 0) {
        typedOutcome(() => volume.readFileRange(path, Math.floor(found.size / 3), Math.min(700, found.size - Math.floor(found.size / 3))));
      }
    }
  } finally {
    volume.close();
  }
}

const CONFIG = join(folder, 'vm.toml');
writeFileSync(
  CONFIG,
  VALID.replace('image_location = "memory"', 'image_location = "fs"\ndisk_path = "fuzz.img"\nramdisk_path = "/boot/ramdisk.bin"\nramdisk_load_addr = 0x80_0000').replace(
    '"kernel.bin"',
    '"/kernel.bin"',
  ),
);

/** check (the config loader) accepts the volume only when run's reader can read every image it names. */
function checkAsRunLoads(): void {
  const spec = typedOutcome(() => loadVmConfig(CONFIG, HOST));
  if (spec instanceof TsvisorError) return;
  for (const planned of spec.images) expect(readImage(planned.source).length).toBe(planned.size);
}

describe('fuzz: the FAT32 reader', () => {
  it('the unchanged volume reads back what was copied in', () => {
    const volume = Fat32Volume.open(image);
    try {
      for (const [path, bytes] of Object.entries(FILES)) expect(volume.readFile(path)).toEqual(bytes);
    } finally {
      volume.close();
    }
    expect(loadVmConfig(CONFIG, HOST).images.map((planned) => planned.size)).toEqual([0x100, 3000]);
  });

  it('a volume with its metadata changed', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fuzz(
      'fat32/mutated',
      fc.property(fc.array(change, { minLength: 1, maxLength: 6 }), (changes) =>
        withChanges(changes, () => {
          exerciseVolume();
          checkAsRunLoads();
        }),
      ),
    );
  });

  it('replays the corpus of changes that once failed', () => {
    const names = readdirSync(CORPUS).filter((name) => name.endsWith('.json'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const changes = JSON.parse(readFileSync(new URL(name, CORPUS), 'utf8')) as Change[];
      withChanges(changes, () => {
        exerciseVolume();
        checkAsRunLoads();
      });
    }
  });
});
