/**
 * ELF executables (System V gABI, "ELF Header" and "Program Header"): the PT_LOAD segments,
 * loaded at their physical addresses, and the entry point, which must lie in one of them:
 * tsvisor jumps to it with paging off or identity-mapped, so an entry outside every segment
 * (0, or a higher-half virtual address) would run zeroed or unmapped memory.
 */
import {
  ImageFormatError, ImageReader, describeSegments, imageFileOf, insideSegment, requireInFile, type ImageFile, type ImageSegment,
} from './image-format.js';

const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46]; // "\x7fELF"
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS32 = 1;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const ET_EXEC = 2;
const EM_386 = 3;
const EM_X86_64 = 62;
const PT_LOAD = 1;

export interface ElfImage {
  readonly elfClass: 32 | 64;
  readonly entry: number;
  readonly segments: ImageSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return ELF_MAGIC.every((byte, i) => bytes[i] === byte);
}

/** Field offsets of the ELF header and program header, by class. */
const LAYOUT = {
  32: { e_type: 16, e_machine: 18, e_entry: 24, e_phoff: 28, e_phentsize: 42, e_phnum: 44, headerSize: 52,
        p_type: 0, p_offset: 4, p_paddr: 12, p_filesz: 16, p_memsz: 20, phentsize: 32 },
  64: { e_type: 16, e_machine: 18, e_entry: 24, e_phoff: 32, e_phentsize: 54, e_phnum: 56, headerSize: 64,
        p_type: 0, p_offset: 8, p_paddr: 24, p_filesz: 32, p_memsz: 40, phentsize: 56 },
} as const;

/** The ELF header is at most 64 bytes, the program headers 65,535 entries of 56: at most ~3.5 MiB is read. */
export function parseElf(image: Uint8Array | ImageFile): ElfImage {
  const file = imageFileOf(image);
  const bytes = file.read(0, Math.min(file.size, LAYOUT[64].headerSize));
  const header = new ImageReader(bytes);
  header.require(0, 16, 'the ELF identification');
  if (!isElf(bytes)) throw new ImageFormatError('it is not an ELF file (no \\x7fELF magic)');
  const elfClass = header.u8(EI_CLASS) === ELFCLASS64 ? 64 : header.u8(EI_CLASS) === ELFCLASS32 ? 32 : undefined;
  if (!elfClass) throw new ImageFormatError(`its ELF class ${header.u8(EI_CLASS)} is neither 32-bit (1) nor 64-bit (2)`);
  if (header.u8(EI_DATA) !== ELFDATA2LSB) throw new ImageFormatError('it is a big-endian ELF file; x86 executables are little-endian');
  const at = LAYOUT[elfClass];
  header.require(0, at.headerSize, 'the ELF header');

  const machine = header.u16(at.e_machine);
  const expected = elfClass === 64 ? EM_X86_64 : EM_386;
  if (machine !== expected) {
    throw new ImageFormatError(
      `it is an ELF${elfClass} file for machine ${machine}${MACHINE_NAMES[machine] ? ` (${MACHINE_NAMES[machine]})` : ''}, not for ${elfClass === 64 ? 'x86-64 (62)' : 'i386 (3)'}`,
    );
  }
  if (header.u16(at.e_type) !== ET_EXEC) throw new ImageFormatError(`it is not an executable (ELF type ${header.u16(at.e_type)}, expected ET_EXEC 2)`);

  const entry = elfClass === 64 ? header.u64(at.e_entry, 'the entry point') : header.u32(at.e_entry);
  const phoff = elfClass === 64 ? header.u64(at.e_phoff, 'the program header offset') : header.u32(at.e_phoff);
  const phnum = header.u16(at.e_phnum);
  if (phnum > 0 && header.u16(at.e_phentsize) !== at.phentsize) {
    throw new ImageFormatError(`its program headers are ${header.u16(at.e_phentsize)} bytes, not ${at.phentsize}`);
  }
  // Each header is checked to lie in the file before the table is read, so the message names the first one that does not.
  for (let i = 0; i < phnum; i++) requireInFile(file.size, phoff + i * at.phentsize, at.phentsize, `program header ${i}`);
  const table = new ImageReader(file.read(phoff, phnum * at.phentsize));
  const segments: ImageSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const offset = i * at.phentsize;
    if (table.u32(offset + at.p_type) !== PT_LOAD) continue;
    const read = (field: number, what: string) =>
      elfClass === 64 ? table.u64(offset + field, `program header ${i}'s ${what}`) : table.u32(offset + field);
    const segment = { gpa: read(at.p_paddr, 'address'), offset: read(at.p_offset, 'offset'), fileSize: read(at.p_filesz, 'file size'), memSize: read(at.p_memsz, 'memory size') };
    if (segment.fileSize > segment.memSize) {
      throw new ImageFormatError(`program header ${i} has more bytes in the file (${segment.fileSize}) than in memory (${segment.memSize})`);
    }
    requireInFile(file.size, segment.offset, segment.fileSize, `segment ${i}`);
    if (segment.memSize > 0) segments.push(segment);
  }
  if (segments.length === 0) throw new ImageFormatError('it has no loadable (PT_LOAD) segment');
  if (!insideSegment(entry, segments)) {
    throw new ImageFormatError(`its entry point 0x${entry.toString(16)} is outside every segment it loads (${describeSegments(segments)}), so the vCPU would start on memory the image does not fill`);
  }
  return { elfClass, entry, segments };
}

const MACHINE_NAMES: Readonly<Record<number, string>> = {
  3: 'i386', 8: 'MIPS', 20: 'PowerPC', 21: 'PowerPC64', 40: 'ARM', 62: 'x86-64', 183: 'AArch64', 243: 'RISC-V', 258: 'LoongArch',
};
