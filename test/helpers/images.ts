/** Synthetic kernel images for tests: ELF executables and multiboot images, built field by field. */

export interface ElfOptions {
  readonly elfClass?: 32 | 64;
  readonly machine?: number;
  readonly type?: number;
  readonly entry?: number;
  readonly paddr?: number;
  readonly filesz?: number;
  readonly memsz?: number;
  /** Cut the file to this many bytes. */
  readonly fileLength?: number;
}

/** An ELF executable with one PT_LOAD segment of file bytes at offset 0x1000. */
export function elfImage(options: ElfOptions = {}): Uint8Array {
  const is64 = (options.elfClass ?? 64) === 64;
  const headerSize = is64 ? 64 : 52;
  const bytes = new Uint8Array(0x1100);
  const view = new DataView(bytes.buffer);
  bytes.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  view.setUint16(16, options.type ?? 2, true);
  view.setUint16(18, options.machine ?? (is64 ? 62 : 3), true);
  const entry = options.entry ?? 0x200010;
  const paddr = options.paddr ?? 0x200000;
  const filesz = options.filesz ?? 0x100;
  const memsz = options.memsz ?? 0x200;
  const ph = headerSize;
  if (is64) {
    view.setBigUint64(24, BigInt(entry), true);
    view.setBigUint64(32, BigInt(headerSize), true);
    view.setUint16(54, 56, true);
    view.setUint16(56, 1, true);
    view.setUint32(ph, 1, true); // PT_LOAD
    view.setBigUint64(ph + 8, 0x1000n, true);
    view.setBigUint64(ph + 24, BigInt(paddr), true);
    view.setBigUint64(ph + 32, BigInt(filesz), true);
    view.setBigUint64(ph + 40, BigInt(memsz), true);
  } else {
    view.setUint32(24, entry, true);
    view.setUint32(28, headerSize, true);
    view.setUint16(42, 32, true);
    view.setUint16(44, 1, true);
    view.setUint32(ph, 1, true);
    view.setUint32(ph + 4, 0x1000, true);
    view.setUint32(ph + 12, paddr, true);
    view.setUint32(ph + 16, filesz, true);
    view.setUint32(ph + 20, memsz, true);
  }
  return bytes.slice(0, options.fileLength ?? bytes.length);
}

export interface MultibootOptions {
  /** Header flags: bit 16 with `fields` gives the a.out-kludge addresses. */
  readonly flags: number;
  readonly offset?: number;
  readonly checksum?: number;
  /** header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr. */
  readonly fields?: readonly number[];
  readonly size?: number;
}

/** A flat image with a multiboot header. */
export function multibootImage(options: MultibootOptions): Uint8Array {
  const bytes = new Uint8Array(options.size ?? 0x3000);
  const view = new DataView(bytes.buffer);
  const at = options.offset ?? 0x40;
  view.setUint32(at, 0x1badb002, true);
  view.setUint32(at + 4, options.flags, true);
  view.setUint32(at + 8, options.checksum ?? (-(0x1badb002 + options.flags) >>> 0), true);
  (options.fields ?? []).forEach((value, i) => view.setUint32(at + 12 + 4 * i, value, true));
  return bytes;
}

/** A multiboot image at 0x200000 with the a.out kludge: the header 0x40 bytes in, entry at 0x200100. */
export function kludgeImage(): Uint8Array {
  return multibootImage({ flags: 0x10003, fields: [0x200040, 0x200000, 0x202000, 0x204000, 0x200100] });
}
