/** Recognising kernel images: ELF headers and program headers, multiboot headers and their a.out-kludge fields. */
import { describe, expect, it } from 'vitest';
import { isElf, parseElf } from '../../src/boot/elf.js';
import { ImageFormatError } from '../../src/boot/image-format.js';
import { findMultibootHeader, kludgeSegments } from '../../src/boot/multiboot-header.js';
import { elfImage, multibootImage, type MultibootOptions } from '../helpers/images.js';

const elf = elfImage;
const multiboot = (flags: number, options: Omit<MultibootOptions, 'flags'> = {}) => multibootImage({ flags, ...options });

describe('parseElf', () => {
  it('reads the entry point and PT_LOAD segments of ELF64 and ELF32 executables', () => {
    expect(parseElf(elf())).toEqual({ elfClass: 64, entry: 0x200010, segments: [{ gpa: 0x200000, offset: 0x1000, fileSize: 0x100, memSize: 0x200 }] });
    expect(parseElf(elf({ elfClass: 32 }))).toMatchObject({ elfClass: 32, entry: 0x200010 });
    expect(isElf(elf())).toBe(true);
    expect(isElf(new Uint8Array(16))).toBe(false);
  });

  it('names the fault of a malformed ELF', () => {
    expect(() => parseElf(elf({ machine: 183 }))).toThrow('it is an ELF64 file for machine 183 (AArch64), not for x86-64 (62)');
    expect(() => parseElf(elf({ elfClass: 32, machine: 62 }))).toThrow('it is an ELF32 file for machine 62 (x86-64), not for i386 (3)');
    expect(() => parseElf(elf({ type: 3 }))).toThrow('it is not an executable (ELF type 3, expected ET_EXEC 2)');
    expect(() => parseElf(elf({ filesz: 0x300, memsz: 0x200 }))).toThrow('program header 0 has more bytes in the file (768) than in memory (512)');
    expect(() => parseElf(elf({ fileLength: 0x1080 }))).toThrow('the file is truncated: segment 0 needs bytes 4096-4351, but the file has 4224');
    expect(() => parseElf(elf({ fileLength: 40 }))).toThrow('the file is truncated: the ELF header needs bytes 0-63, but the file has 40');
    expect(() => parseElf(elf({ fileLength: 40 }))).toThrow(ImageFormatError);
  });

  // Issue 15: the vCPU is started at the entry point, so it must be a byte some segment loads.
  it('refuses an entry point outside every loaded segment, naming the entry and the segments', () => {
    expect(() => parseElf(elf({ entry: 0 }))).toThrow('its entry point 0x0 is outside every segment it loads (0x200000-0x2001ff), so the vCPU would start on memory the image does not fill');
    expect(() => parseElf(elf({ entry: 2 ** 52 }))).toThrow('its entry point 0x10000000000000 is outside every segment it loads (0x200000-0x2001ff)');
    expect(() => parseElf(elf({ elfClass: 32, entry: 0x200200 }))).toThrow('its entry point 0x200200 is outside every segment it loads');
    // The bss counts: the entry may lie past the file bytes, inside the memory size.
    expect(parseElf(elf({ entry: 0x2001ff })).entry).toBe(0x2001ff);
  });

  it('reads only the headers of an image given in pieces', () => {
    const bytes = elf();
    const reads: [number, number][] = [];
    const file = { size: 2 ** 31 - 1, read: (offset: number, length: number) => (reads.push([offset, length]), bytes.subarray(offset, offset + length)) };
    expect(parseElf(file).segments).toEqual([{ gpa: 0x200000, offset: 0x1000, fileSize: 0x100, memSize: 0x200 }]);
    expect(reads).toEqual([[0, 64], [64, 56]]);
  });
});

describe('multiboot headers', () => {
  it('finds a header within the first 8 KiB on a 4-byte boundary', () => {
    expect(findMultibootHeader(multiboot(0x3, { offset: 0x1ff0 }))).toEqual({ offset: 0x1ff0, flags: 0x3, addresses: undefined });
    expect(findMultibootHeader(multiboot(0x3, { offset: 0x2000 }))).toBeUndefined();
    expect(findMultibootHeader(new Uint8Array(100))).toBeUndefined();
  });

  it('refuses a bad checksum and requirements tsvisor cannot meet', () => {
    expect(() => findMultibootHeader(multiboot(0x3, { checksum: 1 }))).toThrow('its multiboot header at offset 0x40 has a bad checksum: magic + flags + checksum is 0x');
    expect(() => findMultibootHeader(multiboot(0x4))).toThrow('its multiboot header requires features tsvisor does not provide (flags bits 0x4: video mode or others)');
  });

  it('places the image by the a.out-kludge fields', () => {
    // header_addr, load_addr, load_end_addr, bss_end_addr, entry_addr: the header sits 0x40 into the image.
    const header = findMultibootHeader(multiboot(0x10003, { fields: [0x200040, 0x200000, 0x202000, 0x204000, 0x200100] }));
    expect(kludgeSegments(header!, 0x3000)).toEqual({ segments: [{ gpa: 0x200000, offset: 0, fileSize: 0x2000, memSize: 0x4000 }], entry: 0x200100 });
    // load_end_addr 0: load to the end of the file; bss_end_addr 0: no bss.
    const whole = findMultibootHeader(multiboot(0x10003, { fields: [0x200040, 0x200000, 0, 0, 0x200100] }));
    expect(kludgeSegments(whole!, 0x3000).segments).toEqual([{ gpa: 0x200000, offset: 0, fileSize: 0x3000, memSize: 0x3000 }]);
  });

  it('names the fault of inconsistent a.out-kludge fields', () => {
    const kludge = (fields: number[], size = 0x3000) => kludgeSegments(findMultibootHeader(multiboot(0x10003, { fields }))!, size);
    expect(() => kludge([0x200040, 0x200000, 0x204000, 0, 0x200100])).toThrow('the file is truncated: its multiboot header loads 16384 bytes from offset 0, but the file has 12288');
    expect(() => kludge([0x200040, 0x200000, 0x202000, 0x201000, 0x200100])).toThrow("its multiboot header's bss_end_addr 0x201000 is below load_end_addr 0x202000");
    expect(() => kludge([0x200040, 0x200000, 0x202000, 0, 0x300000])).toThrow('its multiboot entry_addr 0x300000 is outside the image it loads (0x200000-0x201fff)');
    expect(() => kludge([0x200000, 0x200100, 0, 0, 0x200100])).toThrow('its multiboot header says load_addr 0x200100 is above header_addr 0x200000');
    expect(() => kludge([0x200080, 0x200000, 0, 0, 0x200000])).toThrow("its multiboot header's load_addr would start loading before the beginning of the file");
  });
});
