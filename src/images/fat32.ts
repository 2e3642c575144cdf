/**
 * A read-only FAT32 reader for guest images kept inside a disk image: an AxVisor config with
 * image_location = "fs" names its kernel, BIOS and ramdisk by absolute path inside a FAT32
 * volume (a file such as disk.img made by mkfs.vfat).
 *
 * Field names and rules follow Microsoft's "FAT: General Overview of On-Disk Format"
 * (version 1.03); the comments name its sections. The image is read at offsets, never whole.
 * Every cluster number and chain is checked before it is used and the volume must lie inside
 * the file, so a damaged or hostile image ends in a Fat32Error: never in a crash, a hang or a
 * read outside the file.
 */
import { closeSync, readSync } from 'node:fs';
import { TsvisorError, hex } from '../errors.js';
import { InputFileError, openRegularFile, type RegularFile } from '../host/regular-file.js';

export class Fat32Error extends TsvisorError {
  override name = 'Fat32Error';
}

/** A file found in a volume. */
export interface Fat32File {
  /** Absolute path, with the names as the volume stores them (long names where there are some). */
  readonly path: string;
  /** Size in bytes (DIR_FileSize). */
  readonly size: number;
}

/** The volume's layout, decoded from the BPB. Offsets are bytes from the start of the image. */
interface Layout {
  readonly bytesPerSector: number;
  readonly bytesPerCluster: number;
  /** Start of the FAT this reader follows. */
  readonly fatOffset: number;
  /** Start of cluster 2, the first data cluster. */
  readonly dataOffset: number;
  /** Valid cluster numbers are 2 .. clusterCount + 1. */
  readonly clusterCount: number;
  readonly rootCluster: number;
  readonly totalSectors: number;
}

/** A directory entry, with its long name when a valid one precedes it. */
interface Entry {
  readonly longName: string | undefined;
  readonly shortName: string;
  readonly isDirectory: boolean;
  readonly firstCluster: number;
  readonly size: number;
}

const BOOT_SECTOR_SIZE = 512;
const ENTRY_SIZE = 32;
/** "FAT Directory Structure": a directory holds at most 65,536 entries (2 MiB). */
const MAX_DIRECTORY_BYTES = 65_536 * ENTRY_SIZE;
const ATTR_VOLUME_ID = 0x08;
const ATTR_DIRECTORY = 0x10;
/** ATTR_LONG_NAME is READ_ONLY | HIDDEN | SYSTEM | VOLUME_ID, tested under ATTR_LONG_NAME_MASK. */
const ATTR_LONG_NAME = 0x0f;
const ATTR_LONG_NAME_MASK = 0x3f;
/** "FAT Data Structure": FAT32 entries are 28 bits; the high 4 are reserved. */
const FAT_ENTRY_MASK = 0x0fffffff;
const BAD_CLUSTER = 0x0ffffff7;
const END_OF_CHAIN = 0x0ffffff8;

const MAKE_ONE =
  'Make the image with mkfs.vfat -F 32 <image> and copy the guest images in with mcopy -i <image> <file> ::/<path> (dosfstools and mtools).';

function fault(image: string, problem: string, fix: string): Fat32Error {
  return new Fat32Error(`${image}: ${problem} ${fix}`);
}

function damaged(image: string, problem: string): Fat32Error {
  return fault(image, problem, `The image is damaged: check it with fsck.vfat -n ${image}, or make it again with mkfs.vfat -F 32 and mcopy.`);
}

export class Fat32Volume {
  /** FAT sectors already read, by sector number within the FAT. */
  private readonly fatSectors = new Map<number, DataView>();
  private fd: number | undefined;

  private constructor(
    private readonly image: string,
    fd: number,
    private readonly layout: Layout,
  ) {
    this.fd = fd;
  }

  /** Opens the disk image file and checks its boot sector; throws Fat32Error naming the file and the fault. */
  static open(imagePath: string): Fat32Volume {
    let file: RegularFile;
    try {
      file = openRegularFile(imagePath);
    } catch (error) {
      if (!(error instanceof InputFileError)) throw error;
      throw fault(imagePath, `the disk image ${error.problem}.`, 'Give the path of a FAT32 disk image file (image_location = "fs"). ' + MAKE_ONE);
    }
    try {
      return new Fat32Volume(imagePath, file.fd, readLayout(imagePath, file));
    } catch (error) {
      closeSync(file.fd);
      throw error;
    }
  }

  /**
   * Looks a file up by absolute path ('/boot/kernel.bin'; a path without a leading slash is
   * taken from the root; '/' separators; case-insensitive on long and short names, as FAT is).
   * Returns undefined when it is not there (or is a directory); throws Fat32Error when a
   * directory on the way is damaged.
   */
  find(path: string): Fat32File | undefined {
    const found = this.lookup(path);
    return found && { path: found.path, size: found.entry.size };
  }

  /** Reads a whole file; throws Fat32Error when it is missing or its cluster chain is broken. */
  readFile(path: string): Uint8Array {
    const found = this.lookupFile(path);
    return this.readContents(found.path, found.entry, 0, found.entry.size);
  }

  /**
   * `length` bytes at `offset` of a file (a kernel's headers), following its cluster chain as
   * readFile does, without reading the rest.
   */
  readFileRange(path: string, offset: number, length: number): Uint8Array {
    const found = this.lookupFile(path);
    if (offset < 0 || length < 0 || offset + length > found.entry.size) {
      throw new RangeError(`readFileRange(${path}, ${offset}, ${length}) is outside the file's ${found.entry.size} bytes.`);
    }
    return this.readContents(found.path, found.entry, offset, length);
  }

  /**
   * Walks a file's whole cluster chain as readFile does, without reading its data: a file that
   * readFile would fail on fails here, with the same Fat32Error. `tsvisor check` calls it so
   * that it refuses every image `run` could not load.
   */
  checkFile(path: string): Fat32File {
    const found = this.lookupFile(path);
    for (const _cluster of this.fileClusters(found.path, found.entry)) {
      // only the walk's checks matter
    }
    return { path: found.path, size: found.entry.size };
  }

  /** Closes the image file. */
  close(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
  }

  private lookupFile(path: string): { path: string; entry: Entry } {
    const found = this.lookup(path);
    if (!found) {
      const absolute = `/${components(path).join('/')}`;
      throw fault(
        this.image,
        `there is no file ${absolute} in this FAT32 image.`,
        `Paths are absolute inside the image, with / separators; \`mdir -/ -b -i ${this.image} ::\` lists what it holds.`,
      );
    }
    return found;
  }

  /** Follows a path from the root directory; on the way, every name must be a directory. */
  private lookup(path: string): { path: string; entry: Entry } | undefined {
    const names = components(path);
    const leaf = names.pop();
    if (leaf === undefined) return undefined; // the root itself, a directory
    let directory = { path: '', cluster: this.layout.rootCluster };
    for (const name of names) {
      const entry = this.entryIn(directory, name);
      if (!entry?.isDirectory) return undefined;
      directory = { path: `${directory.path}/${displayName(entry)}`, cluster: entry.firstCluster };
    }
    const entry = this.entryIn(directory, leaf);
    if (!entry || entry.isDirectory) return undefined;
    return { path: `${directory.path}/${displayName(entry)}`, entry };
  }

  /** "Name Matching In Short & Long Names": a name matches either, and case does not count. */
  private entryIn(directory: { path: string; cluster: number }, name: string): Entry | undefined {
    const wanted = fold(name);
    for (const entry of this.entries(directory.cluster, `the directory ${directory.path || '/'}`)) {
      if (fold(entry.shortName) === wanted || (entry.longName !== undefined && fold(entry.longName) === wanted)) return entry;
    }
    return undefined;
  }

  /** The live entries of a directory ("FAT Directory Structure"), without "." and "..". */
  private *entries(firstCluster: number, owner: string): Generator<Entry> {
    const longNames = new LongNameCollector();
    let bytesRead = 0;
    for (const cluster of this.chain(firstCluster, owner)) {
      bytesRead += this.layout.bytesPerCluster;
      if (bytesRead > MAX_DIRECTORY_BYTES) {
        throw damaged(this.image, `${owner} runs past the 65,536 entries a FAT directory may hold.`);
      }
      const view = new DataView(this.read(this.clusterOffset(cluster), this.layout.bytesPerCluster).buffer);
      for (let at = 0; at < view.byteLength; at += ENTRY_SIZE) {
        const first = view.getUint8(at);
        if (first === 0x00) return; // DIR_Name[0] == 0: this entry and all after it are free
        if (first === 0xe5) {
          longNames.reset(); // a deleted entry
          continue;
        }
        const attributes = view.getUint8(at + 0x0b);
        if ((attributes & ATTR_LONG_NAME_MASK) === ATTR_LONG_NAME) {
          longNames.add(view, at);
          continue;
        }
        const longName = longNames.finish(view, at);
        if (attributes & ATTR_VOLUME_ID) continue; // the volume label
        const entry = decodeEntry(view, at, longName);
        if (entry.shortName !== '.' && entry.shortName !== '..') yield entry;
      }
    }
  }

  /**
   * Reads `length` bytes at `offset` of a file, contiguous clusters in one read. The chain is
   * checked up to the last cluster the size needs before any data is read, so a damaged size
   * cannot ask for more memory than the volume holds, and a file that cannot be read whole
   * fails whichever part is asked for.
   */
  private readContents(path: string, entry: Entry, offset: number, length: number): Uint8Array {
    const clusterSize = this.layout.bytesPerCluster;
    const [firstIndex, endIndex] = [Math.floor(offset / clusterSize), Math.ceil((offset + length) / clusterSize)];
    // The whole chain is walked (and checked), but only the clusters of the range are kept.
    const clusters: number[] = [];
    let index = 0;
    for (const cluster of this.fileClusters(path, entry)) {
      if (index >= firstIndex && index < endIndex) clusters.push(cluster);
      index += 1;
    }
    const data = new Uint8Array(length);
    const start = firstIndex * clusterSize;
    let first = 0;
    while (first < clusters.length) {
      let end = first + 1;
      while (end < clusters.length && clusters[end] === clusters[end - 1]! + 1) end += 1;
      // The run covers file bytes [start + first * clusterSize, start + end * clusterSize), clipped to the range asked for.
      const from = Math.max(offset, start + first * clusterSize);
      const to = Math.min(offset + length, start + end * clusterSize);
      this.readAt(this.clusterOffset(clusters[first]!) + (from - start - first * clusterSize), data.subarray(from - offset, to - offset));
      first = end;
    }
    return data;
  }

  /**
   * The clusters a file's size needs, from its chain. A chain longer than the size needs is
   * tolerated: Linux reads by the size, fsck.vfat trims it.
   */
  private *fileClusters(path: string, entry: Entry): Generator<number> {
    const clusterSize = this.layout.bytesPerCluster;
    const needed = Math.ceil(entry.size / clusterSize);
    if (needed > this.layout.clusterCount) {
      throw damaged(this.image, `the file ${path} is ${entry.size} bytes, which takes ${needed} clusters of ${clusterSize} bytes, more than the volume's ${this.layout.clusterCount}.`);
    }
    if (needed === 0) return;
    let count = 0;
    for (const cluster of this.chain(entry.firstCluster, `the file ${path}`)) {
      yield cluster;
      if (++count === needed) return;
    }
    throw damaged(this.image, `the file ${path} is ${entry.size} bytes, which takes ${needed} clusters of ${clusterSize} bytes, but its cluster chain ends after ${count}.`);
  }

  /**
   * The clusters of a chain ("FAT Data Structure"), each checked before it is yielded: in
   * range, not free, not bad, and not seen before in this chain (a loop). `owner` names the
   * file or directory in messages.
   */
  private *chain(first: number, owner: string): Generator<number> {
    const { clusterCount } = this.layout;
    if (!this.isCluster(first)) {
      throw damaged(this.image, `${owner} starts at cluster ${first}, outside the volume's clusters 2..${clusterCount + 1}.`);
    }
    // One bit per cluster: a chain can be as long as the volume, and a Set of millions of numbers is not small.
    const seen = new Uint8Array((clusterCount + 2 + 7) >> 3);
    for (let cluster = first; ; ) {
      seen[cluster >> 3]! |= 1 << (cluster & 7);
      yield cluster;
      const next = this.fatEntry(cluster);
      if (next >= END_OF_CHAIN) return;
      const broken = `the cluster chain of ${owner} is broken: the FAT entry of cluster ${cluster} is ${hex(next)}`;
      if (next === 0) throw damaged(this.image, `${broken}, which marks a free cluster.`);
      if (next === BAD_CLUSTER) throw damaged(this.image, `${broken}, which marks a bad cluster.`);
      if (!this.isCluster(next)) throw damaged(this.image, `${broken}, outside the volume's clusters 2..${clusterCount + 1}.`);
      if (seen[next >> 3]! & (1 << (next & 7))) throw damaged(this.image, `${broken}, which leads back to a cluster earlier in the chain: the chain loops.`);
      cluster = next;
    }
  }

  private isCluster(cluster: number): boolean {
    return cluster >= 2 && cluster < this.layout.clusterCount + 2;
  }

  /** "FAT Data Structure": cluster N's entry is the 4 bytes at N * 4 in the FAT. */
  private fatEntry(cluster: number): number {
    const { bytesPerSector, fatOffset } = this.layout;
    const sector = Math.floor((cluster * 4) / bytesPerSector);
    let view = this.fatSectors.get(sector);
    if (!view) {
      view = new DataView(this.read(fatOffset + sector * bytesPerSector, bytesPerSector).buffer);
      this.fatSectors.set(sector, view);
    }
    return view.getUint32((cluster * 4) % bytesPerSector, true) & FAT_ENTRY_MASK;
  }

  /** "FAT Data Structure": the data region starts with cluster 2. */
  private clusterOffset(cluster: number): number {
    return this.layout.dataOffset + (cluster - 2) * this.layout.bytesPerCluster;
  }

  private read(offset: number, length: number): Uint8Array {
    const bytes = new Uint8Array(length);
    this.readAt(offset, bytes);
    return bytes;
  }

  private readAt(offset: number, into: Uint8Array): void {
    if (this.fd === undefined) throw new Error(`Fat32Volume for ${this.image} used after close().`);
    readAt(this.image, this.fd, offset, into);
  }
}

/** Reads exactly into.length bytes at an offset of the image. */
function readAt(image: string, fd: number, offset: number, into: Uint8Array): void {
  for (let done = 0; done < into.length; ) {
    let count: number;
    try {
      count = readSync(fd, into, done, into.length - done, offset + done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      throw fault(image, `reading ${into.length} bytes at offset ${hex(offset)} failed (${code}).`, 'Give a disk image that is a readable file.');
    }
    if (count === 0) throw damaged(image, `the file ends at ${hex(offset + done)}, inside the volume: it has been cut short.`);
    done += count;
  }
}

/** Reads and checks the boot sector; the volume it describes must lie inside the file. */
function readLayout(image: string, { fd, size }: RegularFile): Layout {
  if (size < BOOT_SECTOR_SIZE) {
    throw fault(image, `the file is ${size} bytes long, shorter than a boot sector (512 bytes): it is not a disk image.`, MAKE_ONE);
  }
  const boot = new Uint8Array(BOOT_SECTOR_SIZE);
  readAt(image, fd, 0, boot);
  const layout = parseBootSector(image, new DataView(boot.buffer));
  const volumeSize = layout.totalSectors * layout.bytesPerSector;
  if (volumeSize > size) {
    throw damaged(image, `the boot sector says the volume is ${volumeSize} bytes, but the file is only ${size} bytes: it has been cut short.`);
  }
  return layout;
}

/** The BPB fields this reader needs, checked ("Boot Sector and BPB", "FAT Type Determination"). */
function parseBootSector(image: string, boot: DataView): Layout {
  if (boot.getUint8(510) !== 0x55 || boot.getUint8(511) !== 0xaa) {
    throw fault(
      image,
      `sector 0 does not end with the signature 0x55 0xAA (it has ${hex(boot.getUint8(510), 2)} ${hex(boot.getUint8(511), 2)}): this is not a FAT volume.`,
      `${MAKE_ONE} A whole disk with a partition table will not do: give the image of the FAT32 partition.`,
    );
  }
  const field = (name: string, offset: number, value: number, problem: string): never => {
    throw fault(image, `${name} (offset ${hex(offset, 2)} of the boot sector) is ${value}, but ${problem}.`, MAKE_ONE);
  };
  const bytesPerSector = boot.getUint16(0x0b, true);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) field('BPB_BytsPerSec', 0x0b, bytesPerSector, 'it must be 512, 1024, 2048 or 4096');
  const sectorsPerCluster = boot.getUint8(0x0d);
  if (sectorsPerCluster === 0 || (sectorsPerCluster & (sectorsPerCluster - 1)) !== 0) {
    field('BPB_SecPerClus', 0x0d, sectorsPerCluster, 'it must be a power of two from 1 to 128');
  }
  const reservedSectors = boot.getUint16(0x0e, true);
  if (reservedSectors === 0) field('BPB_RsvdSecCnt', 0x0e, 0, 'the boot sector itself is reserved, so it must be at least 1');
  const fatCount = boot.getUint8(0x10);
  if (fatCount === 0) field('BPB_NumFATs', 0x10, 0, 'a volume needs at least one FAT');
  // "FAT Type Determination" counts clusters, but small FAT32 volumes made by mkfs.vfat fall
  // below its FAT32 threshold; Linux decides as here: FAT32 has BPB_FATSz16 == 0 and BPB_FATSz32 != 0.
  const fatSize16 = boot.getUint16(0x16, true);
  const fatSize = boot.getUint32(0x24, true);
  if (fatSize16 !== 0) {
    throw fault(image, `this is a FAT12 or FAT16 volume (BPB_FATSz16 at offset 0x16 is ${fatSize16}); tsvisor reads FAT32 volumes only.`, MAKE_ONE);
  }
  if (fatSize === 0) throw fault(image, 'neither BPB_FATSz16 nor BPB_FATSz32 gives a FAT size: this is not a FAT volume (exFAT and NTFS look like this).', MAKE_ONE);
  const rootEntries = boot.getUint16(0x11, true);
  if (rootEntries !== 0) field('BPB_RootEntCnt', 0x11, rootEntries, 'a FAT32 volume keeps its root directory in clusters and must have 0 there');
  const totalSectors = boot.getUint16(0x13, true) || boot.getUint32(0x20, true);

  const dataSector = reservedSectors + fatCount * fatSize;
  const clusterCount = Math.floor(Math.max(0, totalSectors - dataSector) / sectorsPerCluster);
  if (clusterCount === 0) {
    throw fault(image, `the volume has ${totalSectors} sectors, and its reserved sectors and FATs (${dataSector} sectors) leave no room for a data cluster.`, MAKE_ONE);
  }
  const fatCapacity = Math.floor((fatSize * bytesPerSector) / 4) - 2;
  if (clusterCount > fatCapacity || clusterCount > BAD_CLUSTER - 2) {
    throw fault(image, `the volume has ${clusterCount} clusters, but a FAT of ${fatSize} sectors has entries for only ${Math.min(fatCapacity, BAD_CLUSTER - 2)}.`, MAKE_ONE);
  }
  const rootCluster = boot.getUint32(0x2c, true);
  if (rootCluster < 2 || rootCluster >= clusterCount + 2) {
    field('BPB_RootClus', 0x2c, rootCluster, `the volume's clusters are 2..${clusterCount + 1}`);
  }
  // BPB_ExtFlags (0x28): with bit 7 set only the FAT numbered in bits 0-3 is in use; otherwise
  // every FAT mirrors the first.
  const extFlags = boot.getUint16(0x28, true);
  const activeFat = extFlags & 0x80 ? extFlags & 0x0f : 0;
  if (activeFat >= fatCount) field('the active FAT in BPB_ExtFlags', 0x28, activeFat, `the volume has only ${fatCount} FATs`);

  return {
    bytesPerSector,
    bytesPerCluster: bytesPerSector * sectorsPerCluster,
    fatOffset: (reservedSectors + activeFat * fatSize) * bytesPerSector,
    dataOffset: dataSector * bytesPerSector,
    clusterCount,
    rootCluster,
    totalSectors,
  };
}

/**
 * Collects the long-name entries before a short entry ("FAT Long Directory Entries",
 * "Sequence Of Long Directory Entries"). They are stored last part first: the first one has
 * 0x40 (LAST_LONG_ENTRY) in LDIR_Ord with the number of parts, and the numbers count down to
 * 1 just before the short entry. A break in that sequence, or an LDIR_Chksum that does not
 * match the short name, discards the long name: the short name is then the only name, as the
 * spec has implementations treat orphaned long entries.
 */
class LongNameCollector {
  private parts: string[] = [];
  /** LDIR_Ord of the next entry in the sequence; 0 when the sequence is complete or absent. */
  private expected = 0;
  private checksum = -1;

  reset(): void {
    this.parts = [];
    this.expected = 0;
    this.checksum = -1;
  }

  add(view: DataView, at: number): void {
    const order = view.getUint8(at);
    const number = order & ~0x40;
    const checksum = view.getUint8(at + 0x0d);
    if (order & 0x40) {
      this.reset();
      if (number < 1 || number > 20) return; // 20 parts of 13 hold the 255-character limit
      this.expected = number;
      this.checksum = checksum;
    }
    if (this.expected === 0 || number !== this.expected || checksum !== this.checksum) {
      this.reset();
      return;
    }
    this.parts[number - 1] = nameCharacters(view, at);
    this.expected -= 1;
  }

  /** The long name of the short entry at `at`, when one was collected for it; then starts over. */
  finish(view: DataView, at: number): string | undefined {
    const complete = this.parts.length > 0 && this.expected === 0 && this.checksum === shortNameChecksum(view, at);
    const name = complete ? this.parts.join('') : undefined;
    this.reset();
    return name === '' ? undefined : name;
  }
}

/** LDIR_Name1/2/3: 13 UCS-2 little-endian characters, ended by 0x0000 and padded with 0xFFFF. */
const NAME_CHARACTER_OFFSETS = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];

function nameCharacters(view: DataView, at: number): string {
  let text = '';
  for (const offset of NAME_CHARACTER_OFFSETS) {
    const unit = view.getUint16(at + offset, true);
    if (unit === 0x0000 || unit === 0xffff) break;
    text += String.fromCharCode(unit);
  }
  return text;
}

/** "FAT Long Directory Entries": LDIR_Chksum is this rotate-and-add sum of the 11-byte DIR_Name. */
function shortNameChecksum(view: DataView, at: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + view.getUint8(at + i)) & 0xff;
  return sum;
}

/** "FAT 32 Byte Directory Entry Structure": DIR_Attr, DIR_FstClusHI/LO and DIR_FileSize. */
function decodeEntry(view: DataView, at: number, longName: string | undefined): Entry {
  return {
    longName,
    shortName: shortName(view, at),
    isDirectory: (view.getUint8(at + 0x0b) & ATTR_DIRECTORY) !== 0,
    firstCluster: view.getUint16(at + 0x14, true) * 0x10000 + view.getUint16(at + 0x1a, true),
    size: view.getUint32(at + 0x1c, true),
  };
}

/**
 * DIR_Name for display: an 8-character base and a 3-character extension, space-padded; a first
 * byte of 0x05 stands for 0xE5. Windows NT and Linux record an all-lowercase base or extension
 * in DIR_NTRes (0x0C): 0x08 lowercases the base, 0x10 the extension. Bytes above 0x7F are in
 * the OEM code page of whoever wrote the volume, which is not recorded; they are taken as
 * Latin-1 here, so such a file is best found by its long name.
 */
function shortName(view: DataView, at: number): string {
  const text = (from: number, to: number): string => {
    let result = '';
    for (let i = from; i < to; i++) result += String.fromCharCode(view.getUint8(at + i));
    return result.replace(/ +$/, '');
  };
  let base = text(0, 8);
  let extension = text(8, 11);
  if (base.charCodeAt(0) === 0x05) base = `\u00e5${base.slice(1)}`;
  const caseFlags = view.getUint8(at + 0x0c);
  if (caseFlags & 0x08) base = base.toLowerCase();
  if (caseFlags & 0x10) extension = extension.toLowerCase();
  return extension === '' ? base : `${base}.${extension}`;
}

function displayName(entry: Entry): string {
  return entry.longName ?? entry.shortName;
}

function components(path: string): string[] {
  return path.split('/').filter((name) => name !== '');
}

function fold(name: string): string {
  return name.toUpperCase();
}
