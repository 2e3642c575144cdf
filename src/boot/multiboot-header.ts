/**
 * The Multiboot (0.6.96) header, section 3.1: found in the first 8 KiB of the image on a
 * 4-byte boundary, with a checksum that makes magic + flags + checksum zero. When flags
 * bit 16 is set ("the a.out kludge") the header itself says where the image goes and where
 * it starts; otherwise the image must be ELF and its program headers say so.
 */
import { ImageFormatError, ImageReader, type ImageSegment } from './image-format.js';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** What a multiboot loader leaves in EAX (section 3.2). */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header lies in the image's first 8 KiB: only they need reading to find it. */
export const MULTIBOOT_SEARCH_LIMIT = 8192;
const FLAG_ADDRESSES = 1 << 16;
/** Flags bits 0-15 are requirements; the low ones tsvisor meets (page-aligned modules, memory info). */
const SUPPORTED_REQUIREMENTS = (1 << 0) | (1 << 1);

export interface MultibootHeader {
  /** Byte offset of the header in the file. */
  readonly offset: number;
  readonly flags: number;
  /** The a.out kludge: where the image goes and starts, when flags bit 16 is set. */
  readonly addresses:
    | { readonly headerAddr: number; readonly loadAddr: number; readonly loadEndAddr: number; readonly bssEndAddr: number; readonly entryAddr: number }
    | undefined;
}

/** The header, if the image has one; a header with a bad checksum or layout is an error. */
export function findMultibootHeader(bytes: Uint8Array): MultibootHeader | undefined {
  const image = new ImageReader(bytes);
  const limit = Math.min(MULTIBOOT_SEARCH_LIMIT, bytes.length) - 12;
  for (let offset = 0; offset <= limit; offset += 4) {
    if (image.u32(offset) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = image.u32(offset + 4);
    const checksum = image.u32(offset + 8);
    if (((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0) !== 0) {
      throw new ImageFormatError(
        `its multiboot header at offset 0x${offset.toString(16)} has a bad checksum: magic + flags + checksum is 0x${((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0).toString(16)}, not 0`,
      );
    }
    const unsupported = flags & 0xffff & ~SUPPORTED_REQUIREMENTS;
    if (unsupported) {
      throw new ImageFormatError(`its multiboot header requires features tsvisor does not provide (flags bits 0x${unsupported.toString(16)}: video mode or others)`);
    }
    if (!(flags & FLAG_ADDRESSES)) return { offset, flags, addresses: undefined };
    image.require(offset, 32, 'the multiboot header\'s address fields');
    return {
      offset,
      flags,
      addresses: {
        headerAddr: image.u32(offset + 12),
        loadAddr: image.u32(offset + 16),
        loadEndAddr: image.u32(offset + 20),
        bssEndAddr: image.u32(offset + 24),
        entryAddr: image.u32(offset + 28),
      },
    };
  }
  return undefined;
}

/** Where the a.out-kludge fields put the image (section 3.1.3), for an image of `imageSize` bytes. */
export function kludgeSegments(header: MultibootHeader, imageSize: number): { segments: ImageSegment[]; entry: number } {
  const fields = header.addresses;
  if (!fields) throw new ImageFormatError('its multiboot header has no address fields');
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = fields;
  const hex = (value: number) => `0x${value.toString(16)}`;
  if (loadAddr > headerAddr) throw new ImageFormatError(`its multiboot header says load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  // The header sits (header_addr - load_addr) bytes into the loaded text, so loading starts that far before it in the file.
  const offset = header.offset - (headerAddr - loadAddr);
  if (offset < 0) throw new ImageFormatError('its multiboot header\'s load_addr would start loading before the beginning of the file');
  if (loadEndAddr !== 0 && loadEndAddr < loadAddr) throw new ImageFormatError(`its multiboot header's load_end_addr ${hex(loadEndAddr)} is below load_addr ${hex(loadAddr)}`);
  const fileSize = loadEndAddr === 0 ? imageSize - offset : loadEndAddr - loadAddr;
  if (offset + fileSize > imageSize) {
    throw new ImageFormatError(`the file is truncated: its multiboot header loads ${fileSize} bytes from offset ${offset}, but the file has ${imageSize}`);
  }
  const memSize = bssEndAddr === 0 ? fileSize : bssEndAddr - loadAddr;
  if (memSize < fileSize) throw new ImageFormatError(`its multiboot header's bss_end_addr ${hex(bssEndAddr)} is below load_end_addr ${hex(loadAddr + fileSize)}`);
  if (entryAddr < loadAddr || entryAddr >= loadAddr + memSize) {
    throw new ImageFormatError(`its multiboot entry_addr ${hex(entryAddr)} is outside the image it loads (${hex(loadAddr)}-${hex(loadAddr + memSize - 1)})`);
  }
  return { segments: [{ gpa: loadAddr, offset, fileSize, memSize }], entry: entryAddr };
}
