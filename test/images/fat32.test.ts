/**
 * Fat32Volume against images made by the real tools: mkfs.vfat (dosfstools) formats them and
 * mtools (mmd, mcopy, mdel) fills them, as the disk images of AxVisor's image_location = "fs"
 * are made. The test decodes the few on-disk fields it needs on its own (below), to arrange
 * fragmentation and to damage images, without reaching into the module.
 */
import { execFileSync } from 'node:child_process';
import { accessSync, closeSync, constants, copyFileSync, mkdirSync, mkdtempSync, openSync, readSync, rmSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Fat32Error, Fat32Volume } from '../../src/images/fat32.js';
import { fifoFolder } from '../helpers/fifo.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-fat32-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

// ---- Tools --------------------------------------------------------------------------------

/** Finds a tool on PATH, or in /usr/sbin and /sbin (where mkfs.vfat lives, off many users' PATH). */
function tool(name: string): string {
  for (const dir of [...(process.env['PATH'] ?? '').split(delimiter), '/usr/sbin', '/sbin']) {
    const path = join(dir, name);
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not in this folder
    }
  }
  throw new Error(
    `${name} is not installed. These tests make FAT images with dosfstools (mkfs.vfat) and mtools (mcopy, mmd, mdel): install them with apt-get install dosfstools mtools.`,
  );
}

function run(name: string, args: readonly string[]): void {
  // MTOOLS_SKIP_CHECK: mtools would otherwise refuse an image whose size is not a whole number of
  // (fictional) tracks.
  execFileSync(tool(name), args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
}

/**
 * A sparse image formatted by mkfs.vfat. mtools, like the spec's "FAT Type Determination",
 * takes a volume of fewer than 65,525 clusters for FAT16 and then cannot write to it, so FAT32
 * images here have at least that many: 40 MiB of 512-byte clusters is about 81,000.
 */
function makeImage(name: string, options: { fat?: 12 | 16 | 32; megabytes?: number; mkfsArgs?: readonly string[] } = {}): string {
  const image = join(folder, name);
  writeFileSync(image, '');
  truncateSync(image, (options.megabytes ?? 40) * 2 ** 20);
  run('mkfs.vfat', ['-F', String(options.fat ?? 32), '-n', 'TSVISOR', ...(options.mkfsArgs ?? ['-s', '1']), image]);
  return image;
}

let hostFiles = 0;
/** Copies bytes into the image at an absolute path (mcopy writes the long and short names). */
function copyIn(image: string, target: string, bytes: Uint8Array): void {
  const source = join(folder, `host-${hostFiles++}`);
  writeFileSync(source, bytes);
  run('mcopy', ['-i', image, source, `::${target}`]);
}

/** Deterministic bytes that no two files share by accident (xorshift32). */
function pseudoRandom(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed | 1;
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    bytes[i] = x & 0xff;
  }
  return bytes;
}

function text(value: string): Uint8Array {
  return new TextEncoder().encode(value);
}

// ---- The test's own decoding of the on-disk format ------------------------------------------

function readBytes(image: string, offset: number, length: number): Uint8Array {
  const fd = openSync(image, 'r');
  try {
    const bytes = new Uint8Array(length);
    readSync(fd, bytes, 0, length, offset);
    return bytes;
  } finally {
    closeSync(fd);
  }
}

function writeBytes(image: string, offset: number, bytes: Uint8Array): void {
  const fd = openSync(image, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function u32(value: number): Uint8Array {
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value, true);
  return bytes;
}

interface Geometry {
  bytesPerSector: number;
  bytesPerCluster: number;
  fatOffset: number;
  fatBytes: number;
  fatCount: number;
  dataOffset: number;
  rootCluster: number;
  fsInfoOffset: number;
}

function geometry(image: string): Geometry {
  const boot = new DataView(readBytes(image, 0, 512).buffer);
  const bytesPerSector = boot.getUint16(0x0b, true);
  const reserved = boot.getUint16(0x0e, true);
  const fatCount = boot.getUint8(0x10);
  const fatSectors = boot.getUint32(0x24, true);
  return {
    bytesPerSector,
    bytesPerCluster: bytesPerSector * boot.getUint8(0x0d),
    fatOffset: reserved * bytesPerSector,
    fatBytes: fatSectors * bytesPerSector,
    fatCount,
    dataOffset: (reserved + fatCount * fatSectors) * bytesPerSector,
    rootCluster: boot.getUint32(0x2c, true),
    fsInfoOffset: boot.getUint16(0x30, true) * bytesPerSector,
  };
}

function fatEntry(image: string, g: Geometry, cluster: number): number {
  return new DataView(readBytes(image, g.fatOffset + cluster * 4, 4).buffer).getUint32(0, true) & 0x0fffffff;
}

/** Writes a FAT entry in every copy of the FAT, as a consistent (if wrong) image would have it. */
function setFatEntry(image: string, g: Geometry, cluster: number, value: number): void {
  for (let fat = 0; fat < g.fatCount; fat++) writeBytes(image, g.fatOffset + fat * g.fatBytes + cluster * 4, u32(value));
}

function chainOf(image: string, g: Geometry, first: number): number[] {
  const chain = [first];
  for (let next = fatEntry(image, g, first); next < 0x0ffffff8; next = fatEntry(image, g, next)) {
    chain.push(next);
    if (chain.length > 1_000_000) throw new Error('the test image has a chain loop');
  }
  return chain;
}

/** The byte offset of the root directory entry whose DIR_Name is `shortName` ("NAME    EXT"). */
function rootEntryOffset(image: string, g: Geometry, shortName: string): number {
  for (const cluster of chainOf(image, g, g.rootCluster)) {
    const start = g.dataOffset + (cluster - 2) * g.bytesPerCluster;
    const bytes = readBytes(image, start, g.bytesPerCluster);
    for (let at = 0; at < bytes.length; at += 32) {
      if (new TextDecoder('latin1').decode(bytes.subarray(at, at + 11)) === shortName) return start + at;
    }
  }
  throw new Error(`no root entry ${shortName}`);
}

function firstCluster(image: string, entryOffset: number): number {
  const entry = new DataView(readBytes(image, entryOffset, 32).buffer);
  return entry.getUint16(0x14, true) * 0x10000 + entry.getUint16(0x1a, true);
}

function isContiguous(chain: readonly number[]): boolean {
  return chain.every((cluster, index) => index === 0 || cluster === chain[index - 1]! + 1);
}

function errorOf(action: () => unknown): Fat32Error {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(Fat32Error);
    return error as Fat32Error;
  }
  throw new Error('expected a Fat32Error');
}

// ---- The volume most tests read ------------------------------------------------------------

const LONG_NAME = 'arceos-x86_64-with-a-long-name.bin';
const files = {
  readme: text('tsvisor FAT32 test volume\n'),
  hello: text('hello from a lowercase 8.3 name\n'),
  long: pseudoRandom(5000, 1),
  kernel: pseudoRandom(70_000, 2),
  grub: text('set default=0\nmenuentry "arceos" { multiboot /boot/Kernel.bin }\n'),
  big: pseudoRandom(100_003, 3),
  chain: pseudoRandom(16 * 512, 4),
};
const manyNames = Array.from({ length: 40 }, (_, index) => `guest image number ${index} with a long name.img`);

let image = '';
beforeAll(() => {
  image = makeImage('volume.img');
  copyIn(image, '/README.TXT', files.readme);
  copyIn(image, '/hello.txt', files.hello);
  copyIn(image, `/${LONG_NAME}`, files.long);
  run('mmd', ['-i', image, '::/boot']);
  run('mmd', ['-i', image, '::/boot/grub']);
  copyIn(image, '/boot/Kernel.bin', files.kernel);
  copyIn(image, '/boot/grub/grub.cfg', files.grub);
  copyIn(image, '/big.bin', files.big);
  copyIn(image, '/empty.bin', new Uint8Array(0));
  copyIn(image, '/CHAIN.BIN', files.chain);
  run('mmd', ['-i', image, '::/many']);
  manyNames.forEach((name, index) => copyIn(image, `/many/${name}`, pseudoRandom(600, 100 + index)));
}, 60_000);

function withVolume<T>(path: string, use: (volume: Fat32Volume) => T): T {
  const volume = Fat32Volume.open(path);
  try {
    return use(volume);
  } finally {
    volume.close();
  }
}

describe('Fat32Volume reads files mtools wrote', () => {
  it('reads a small file at the root by its 8.3 name, in any case', () => {
    withVolume(image, (volume) => {
      expect(volume.find('/README.TXT')).toEqual({ path: '/README.TXT', size: files.readme.length });
      expect(volume.find('/readme.txt')).toEqual({ path: '/README.TXT', size: files.readme.length });
      expect(volume.readFile('/README.TXT')).toEqual(files.readme);
    });
  });

  it('shows an all-lowercase 8.3 name in lowercase (DIR_NTRes) and still matches any case', () => {
    withVolume(image, (volume) => {
      expect(volume.find('/HELLO.TXT')).toEqual({ path: '/hello.txt', size: files.hello.length });
      expect(volume.readFile('/Hello.Txt')).toEqual(files.hello);
    });
  });

  it('finds a file by its long name, case-insensitively, and by its short alias', () => {
    withVolume(image, (volume) => {
      const expected = { path: `/${LONG_NAME}`, size: files.long.length };
      expect(volume.find(`/${LONG_NAME}`)).toEqual(expected);
      expect(volume.find('/ArceOS-X86_64-With-A-Long-Name.BIN')).toEqual(expected);
      expect(volume.find('/arceos~1.bin')).toEqual(expected);
      expect(volume.readFile('/ARCEOS-X86_64-WITH-A-LONG-NAME.BIN')).toEqual(files.long);
    });
  });

  it('finds files in a folder and a sub-folder, with or without the leading slash', () => {
    withVolume(image, (volume) => {
      expect(volume.find('/boot/Kernel.bin')).toEqual({ path: '/boot/Kernel.bin', size: files.kernel.length });
      expect(volume.find('boot/kernel.bin')).toEqual({ path: '/boot/Kernel.bin', size: files.kernel.length });
      expect(volume.find('/BOOT/GRUB/grub.cfg')).toEqual({ path: '/boot/grub/grub.cfg', size: files.grub.length });
      expect(volume.readFile('boot/grub/grub.cfg')).toEqual(files.grub);
      expect(volume.readFile('/boot/Kernel.bin')).toEqual(files.kernel);
    });
  });

  it('finds nothing at a folder, the root, or below a file', () => {
    withVolume(image, (volume) => {
      expect(volume.find('/boot')).toBeUndefined();
      expect(volume.find('/boot/grub/')).toBeUndefined();
      expect(volume.find('/')).toBeUndefined();
      expect(volume.find('')).toBeUndefined();
      expect(volume.find('/README.TXT/x')).toBeUndefined();
      expect(volume.find('/.')).toBeUndefined();
      expect(volume.find('/boot/..')).toBeUndefined();
    });
  });

  it('reads a file larger than one cluster and a zero-length file', () => {
    withVolume(image, (volume) => {
      const g = geometry(image);
      expect(files.big.length).toBeGreaterThan(g.bytesPerCluster);
      expect(volume.find('/big.bin')).toEqual({ path: '/big.bin', size: files.big.length });
      expect(volume.readFile('/big.bin')).toEqual(files.big);
      expect(volume.find('/empty.bin')).toEqual({ path: '/empty.bin', size: 0 });
      expect(volume.readFile('/empty.bin')).toEqual(new Uint8Array(0));
    });
  });

  it('reads a folder that spans several clusters, with long names across cluster boundaries', () => {
    const g = geometry(image);
    withVolume(image, (volume) => {
      // 40 files of 3 long-name entries and a short entry each: 160 entries, 16 to a cluster.
      expect(manyNames.length * 4 * 32).toBeGreaterThan(4 * g.bytesPerCluster);
      manyNames.forEach((name, index) => {
        expect(volume.find(`/many/${name.toUpperCase()}`)).toEqual({ path: `/many/${name}`, size: 600 });
        expect(volume.readFile(`/many/${name}`)).toEqual(pseudoRandom(600, 100 + index));
      });
    });
  });

  it('reports a missing file: find() returns undefined, readFile() names the image and the path', () => {
    withVolume(image, (volume) => {
      expect(volume.find('/boot/missing.bin')).toBeUndefined();
      expect(volume.find('/nowhere/kernel.bin')).toBeUndefined();
      const error = errorOf(() => volume.readFile('boot//missing.bin'));
      expect(error.message).toContain(image);
      expect(error.message).toContain('/boot/missing.bin');
      expect(error.message).toContain('mdir');
      expect(errorOf(() => volume.readFile('/boot')).message).toContain('/boot');
    });
  });

  it('closes the image file once, however often close() is called', () => {
    const volume = Fat32Volume.open(image);
    volume.close();
    volume.close();
    expect(() => volume.find('/README.TXT')).toThrow(/after close/);
  });

  it('reads a volume with 4096-byte sectors', () => {
    // 65,525 clusters of 4 KiB need 256 MiB; the file is sparse.
    const big = makeImage('sectors-4096.img', { megabytes: 320, mkfsArgs: ['-S', '4096', '-s', '1'] });
    expect(geometry(big).bytesPerSector).toBe(4096);
    run('mmd', ['-i', big, '::/boot']);
    copyIn(big, '/boot/Kernel-Image.bin', files.kernel);
    withVolume(big, (volume) => {
      expect(volume.find('/boot/kernel-image.bin')).toEqual({ path: '/boot/Kernel-Image.bin', size: files.kernel.length });
      expect(volume.readFile('/boot/Kernel-Image.bin')).toEqual(files.kernel);
    });
  });
});

describe('Fat32Volume follows fragmented cluster chains', () => {
  it('reads a file whose clusters fill a hole left by a deleted file and continue after the next file', () => {
    const fragmented = makeImage('fragmented.img');
    const g = geometry(fragmented);
    const a = pseudoRandom(5 * g.bytesPerCluster, 11);
    const b = pseudoRandom(6 * g.bytesPerCluster - 100, 12);
    const c = pseudoRandom(4 * g.bytesPerCluster + 1, 13);
    const d = pseudoRandom(300 * 1024 + 7, 14);
    copyIn(fragmented, '/A.BIN', a);
    copyIn(fragmented, '/B.BIN', b);
    copyIn(fragmented, '/C.BIN', c);
    const chainB = chainOf(fragmented, g, firstCluster(fragmented, rootEntryOffset(fragmented, g, 'B       BIN')));
    const chainC = chainOf(fragmented, g, firstCluster(fragmented, rootEntryOffset(fragmented, g, 'C       BIN')));
    expect(chainB).toHaveLength(6);
    run('mdel', ['-i', fragmented, '::/B.BIN']);
    // mtools allocates from the FSInfo hint FSI_Nxt_Free, which points past C. Set it to
    // 0xFFFFFFFF ("unknown", "FAT32 FSInfo Sector Structure") so that it searches from
    // cluster 2, as a fresh mount would, and fills B's hole first.
    expect(new DataView(readBytes(fragmented, g.fsInfoOffset, 4).buffer).getUint32(0, true)).toBe(0x41615252);
    writeBytes(fragmented, g.fsInfoOffset + 492, u32(0xffffffff));
    copyIn(fragmented, '/D.BIN', d);

    const chainD = chainOf(fragmented, g, firstCluster(fragmented, rootEntryOffset(fragmented, g, 'D       BIN')));
    expect(chainD).toHaveLength(Math.ceil(d.length / g.bytesPerCluster));
    expect(chainD.slice(0, chainB.length)).toEqual(chainB);
    expect(chainD[chainB.length]).toBeGreaterThan(Math.max(...chainC));
    expect(isContiguous(chainD)).toBe(false);

    withVolume(fragmented, (volume) => {
      expect(volume.find('/B.BIN')).toBeUndefined();
      expect(volume.find('/d.bin')).toEqual({ path: '/D.BIN', size: d.length });
      expect(volume.readFile('/D.BIN')).toEqual(d);
      // Pieces across the hole's edge, inside one cluster, at the end, and empty.
      for (const [offset, length] of [[0, 1], [100, 6 * 512], [5 * 512 + 7, 3 * 512 + 9], [700, 10], [d.length - 1, 1], [d.length, 0], [0, d.length]] as const) {
        expect(volume.readFileRange('/D.BIN', offset, length)).toEqual(d.subarray(offset, offset + length));
      }
      expect(volume.checkFile('/D.BIN')).toEqual({ path: '/D.BIN', size: d.length });
      expect(volume.readFile('/A.BIN')).toEqual(a);
      expect(volume.readFile('/C.BIN')).toEqual(c);
    });
  });
});

describe('Fat32Volume refuses what is not a FAT32 volume', () => {
  it('refuses a FAT16 volume, saying how to make a FAT32 one', () => {
    const fat16 = makeImage('fat16.img', { fat: 16, mkfsArgs: [] });
    const error = errorOf(() => Fat32Volume.open(fat16));
    expect(error.message).toContain(fat16);
    expect(error.message).toContain('FAT12 or FAT16');
    expect(error.message).toContain('mkfs.vfat -F 32');
  });

  it('refuses a FAT12 volume', () => {
    const fat12 = makeImage('fat12.img', { fat: 12, megabytes: 1, mkfsArgs: [] });
    expect(errorOf(() => Fat32Volume.open(fat12)).message).toContain('FAT12 or FAT16');
  });

  it('refuses a file of garbage, with or without the boot signature', () => {
    const garbage = join(folder, 'garbage.img');
    const bytes = pseudoRandom(2 ** 20, 21);
    bytes[510] = 0;
    writeFileSync(garbage, bytes);
    const error = errorOf(() => Fat32Volume.open(garbage));
    expect(error.message).toContain(garbage);
    expect(error.message).toContain('0x55 0xAA');

    bytes[510] = 0x55;
    bytes[511] = 0xaa;
    writeFileSync(garbage, bytes);
    expect(errorOf(() => Fat32Volume.open(garbage)).message).toContain(garbage);
  });

  it('refuses a file shorter than a boot sector, a missing file and a folder', () => {
    const short = join(folder, 'short.img');
    writeFileSync(short, new Uint8Array(100));
    expect(errorOf(() => Fat32Volume.open(short)).message).toMatch(/short\.img: the file is 100 bytes long/);
    const missing = join(folder, 'missing.img');
    expect(errorOf(() => Fat32Volume.open(missing)).message).toContain(`${missing}: the disk image does not exist.`);
    const directory = join(folder, 'a-folder.img');
    mkdirSync(directory);
    expect(errorOf(() => Fat32Volume.open(directory)).message).toContain(`${directory}: the disk image is a folder, not a regular file`);
  });

  // Issue 15: opening a FIFO for reading waits for a writer, and a device never ends.
  it('refuses a FIFO and a device before reading them', () => {
    const fifos = fifoFolder('tsvisor-fat32-fifo-');
    const fifo = join(fifos.path, 'a-fifo.img');
    try {
      execFileSync('mkfifo', [fifo]);
      expect(errorOf(() => Fat32Volume.open(fifo)).message).toContain(`${fifo}: the disk image is a FIFO (named pipe), not a regular file`);
    } finally {
      fifos.remove();
    }
    expect(errorOf(() => Fat32Volume.open('/dev/zero')).message).toContain('/dev/zero: the disk image is a character device, not a regular file');
  });

  it('refuses an image cut shorter than its volume', () => {
    const cut = join(folder, 'cut.img');
    copyFileSync(image, cut);
    truncateSync(cut, 20 * 2 ** 20);
    expect(errorOf(() => Fat32Volume.open(cut)).message).toContain('cut short');
  });

  it('refuses a boot sector whose fields are out of range', () => {
    const cases: Array<[offset: number, bytes: number[], message: string]> = [
      [0x0b, [0x00, 0x03], 'BPB_BytsPerSec'],
      [0x0d, [3], 'BPB_SecPerClus'],
      [0x11, [0x00, 0x02], 'BPB_RootEntCnt'],
      [0x2c, [0xff, 0xff, 0xff, 0x0f], 'BPB_RootClus'],
      [0x24, [0, 0, 0, 0], 'neither BPB_FATSz16 nor BPB_FATSz32'],
    ];
    const patched = join(folder, 'patched-bpb.img');
    for (const [offset, bytes, message] of cases) {
      copyFileSync(image, patched);
      writeBytes(patched, offset, new Uint8Array(bytes));
      const error = errorOf(() => Fat32Volume.open(patched));
      expect(error.message).toContain(patched);
      expect(error.message).toContain(message);
    }
  }, 120_000); // five copies of the image: 41 s once in the test VM, whose files go over 9p
});

describe('Fat32Volume on damaged images', () => {
  /** A copy of the test volume with CHAIN.BIN's chain (16 clusters) at hand. */
  function damagedCopy(name: string): { copy: string; g: Geometry; chain: number[] } {
    const copy = join(folder, name);
    copyFileSync(image, copy);
    const g = geometry(copy);
    const chain = chainOf(copy, g, firstCluster(copy, rootEntryOffset(copy, g, 'CHAIN   BIN')));
    expect(chain).toHaveLength(files.chain.length / g.bytesPerCluster);
    return { copy, g, chain };
  }

  const chainFaults: Array<[what: string, link: (chain: number[]) => [index: number, value: number], message: RegExp]> = [
    ['a cluster number out of range', () => [3, 0x0ffffff0], /FAT entry of cluster \d+ is 0xffffff0, outside the volume's clusters 2\.\.\d+/],
    ['cluster 1', () => [3, 1], /is 0x1, outside/],
    ['a loop', (chain) => [10, chain[4]!], /the chain loops/],
    ['a loop onto itself', (chain) => [0, chain[0]!], /the chain loops/],
    ['a free cluster', () => [5, 0], /marks a free cluster/],
    ['a bad cluster', () => [5, 0x0ffffff7], /marks a bad cluster/],
    ['a chain too short for the size', () => [2, 0x0fffffff], /is 8192 bytes, which takes 16 clusters of 512 bytes, but its cluster chain ends after 3/],
  ];
  for (const [what, link, message] of chainFaults) {
    it(`throws a Fat32Error on ${what} in a file's chain`, () => {
      const { copy, g, chain } = damagedCopy('damaged-chain.img');
      const [index, value] = link(chain);
      setFatEntry(copy, g, chain[index]!, value);
      withVolume(copy, (volume) => {
        expect(volume.find('/chain.bin')).toEqual({ path: '/CHAIN.BIN', size: files.chain.length });
        const error = errorOf(() => volume.readFile('/chain.bin'));
        expect(error.message).toContain(copy);
        expect(error.message).toContain('/CHAIN.BIN');
        expect(error.message).toMatch(message);
        expect(error.message).toContain('fsck.vfat');
      });
    });
  }

  it('reads a file whose chain runs on past its size, as Linux does', () => {
    const { copy, g, chain } = damagedCopy('long-chain.img');
    setFatEntry(copy, g, chain[15]!, 3000);
    setFatEntry(copy, g, 3000, 0x0fffffff);
    withVolume(copy, (volume) => expect(volume.readFile('/CHAIN.BIN')).toEqual(files.chain));
  });

  it('throws a Fat32Error on a file whose first cluster is out of range, and on a size with no cluster', () => {
    const { copy } = damagedCopy('damaged-start.img');
    const g = geometry(copy);
    const entry = rootEntryOffset(copy, g, 'CHAIN   BIN');
    writeBytes(copy, entry + 0x14, new Uint8Array([0xff, 0x0f]));
    const outside = firstCluster(copy, entry);
    expect(outside).toBeGreaterThan(0x0fff0000);
    withVolume(copy, (volume) => expect(errorOf(() => volume.readFile('/CHAIN.BIN')).message).toContain(`/CHAIN.BIN starts at cluster ${outside}, outside`));
    writeBytes(copy, entry + 0x14, new Uint8Array([0, 0]));
    writeBytes(copy, entry + 0x1a, new Uint8Array([0, 0]));
    withVolume(copy, (volume) => expect(errorOf(() => volume.readFile('/CHAIN.BIN')).message).toMatch(/starts at cluster 0, outside/));
  });

  // Issue 15: such a file is refused by its size, before a byte of it is read or a buffer allocated.
  it('throws a Fat32Error, not a RangeError, on a size of 4 GiB that the volume cannot hold', () => {
    const { copy, g } = damagedCopy('damaged-size.img');
    writeBytes(copy, rootEntryOffset(copy, g, 'CHAIN   BIN') + 0x1c, u32(0xffffffff));
    withVolume(copy, (volume) => {
      expect(volume.find('/CHAIN.BIN')?.size).toBe(0xffffffff);
      const refusal = "the file /CHAIN.BIN is 4294967295 bytes, which takes 8388608 clusters of 512 bytes, more than the volume's 80628.";
      expect(errorOf(() => volume.readFile('/CHAIN.BIN')).message).toContain(refusal);
      expect(errorOf(() => volume.checkFile('/CHAIN.BIN')).message).toContain(refusal);
      expect(errorOf(() => volume.readFileRange('/CHAIN.BIN', 0, 64)).message).toContain(refusal);
    });
  });

  it('throws a Fat32Error on a folder whose chain loops or leaves the volume, without hanging', () => {
    const copy = join(folder, 'damaged-folder.img');
    copyFileSync(image, copy);
    const g = geometry(copy);
    const manyChain = chainOf(copy, g, firstCluster(copy, rootEntryOffset(copy, g, 'MANY       ')));
    expect(manyChain.length).toBeGreaterThan(2);
    // The last cluster has free entries, where the walk stops: loop back from a full one.
    setFatEntry(copy, g, manyChain[1]!, manyChain[0]!);
    withVolume(copy, (volume) => {
      const error = errorOf(() => volume.find('/many/not-there'));
      expect(error.message).toContain(copy);
      expect(error.message).toContain('/many');
      expect(error.message).toContain('loops');
      expect(volume.readFile(`/many/${manyNames[0]!}`)).toEqual(pseudoRandom(600, 100));
    });
    setFatEntry(copy, g, manyChain[1]!, 0x0ffffff0);
    withVolume(copy, (volume) => expect(errorOf(() => volume.find(`/many/${manyNames[39]!}`)).message).toContain('outside'));
    setFatEntry(copy, g, g.rootCluster, g.rootCluster);
    writeBytes(copy, g.dataOffset + (g.rootCluster - 2) * g.bytesPerCluster, new Uint8Array(g.bytesPerCluster).fill(0x41));
    withVolume(copy, (volume) => expect(errorOf(() => volume.find('/x')).message).toContain('loops'));
  });

  it('never throws anything but a Fat32Error on randomly damaged metadata', () => {
    const copy = join(folder, 'fuzzed.img');
    copyFileSync(image, copy);
    const g = geometry(copy);
    // The boot sector, the FATs and the first directory clusters: everything the reader decodes.
    const metadataEnd = g.dataOffset + 200 * g.bytesPerCluster;
    const original = readBytes(copy, 0, metadataEnd);
    const paths = ['/README.TXT', `/${LONG_NAME}`, '/boot/Kernel.bin', '/boot/grub/grub.cfg', '/big.bin', '/CHAIN.BIN', `/many/${manyNames[7]!}`, '/missing'];
    const noise = pseudoRandom(200_000, 31);
    let failures = 0;
    for (let round = 0; round < 300; round++) {
      writeBytes(copy, 0, original);
      for (let patch = 0; patch < 8; patch++) {
        const at = noise[round * 64 + patch * 8]! * 65536 + noise[round * 64 + patch * 8 + 1]! * 256 + noise[round * 64 + patch * 8 + 2]!;
        const inFat = (round + patch) % 2 === 0;
        const offset = inFat ? g.fatOffset + (at % 4096) : at % metadataEnd;
        writeBytes(copy, offset, noise.subarray(round * 64 + patch * 8 + 3, round * 64 + patch * 8 + 7));
      }
      try {
        withVolume(copy, (volume) => {
          for (const path of paths) {
            try {
              if (volume.find(path)) volume.readFile(path);
            } catch (error) {
              if (!(error instanceof Fat32Error)) throw error;
              failures += 1;
            }
          }
        });
      } catch (error) {
        if (!(error instanceof Fat32Error)) throw error;
        failures += 1;
      }
    }
    // Some damage must have been noticed, or the test damaged nothing the reader decodes.
    expect(failures).toBeGreaterThan(0);
  });
});
