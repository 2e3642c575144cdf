/** The multiboot information structure, field by field (Multiboot 0.6.96 section 3.3). */
import { describe, expect, it } from 'vitest';
import {
  MBI_BOOT_LOADER_NAME, MBI_CMDLINE, MBI_MEMORY, MBI_MEMORY_MAP, MBI_MODULES, MULTIBOOT_INFO_AREA,
  MultibootInfoTooLarge, buildMultibootInfo, guestMemoryMap, multibootInputsOf,
} from '../../src/boot/multiboot-info.js';

const BASE = MULTIBOOT_INFO_AREA.base;

function reader(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer);
  return {
    u32: (offset: number) => view.getUint32(offset, true),
    u64: (offset: number) => view.getBigUint64(offset, true),
    string: (address: number) => {
      const start = address - BASE;
      return new TextDecoder().decode(bytes.subarray(start, bytes.indexOf(0, start)));
    },
  };
}

describe('buildMultibootInfo', () => {
  const regions = [
    { gpa: 0, size: 0x100_0000, mapType: 'alloc', readOnly: false },
    { gpa: 0x100_0000, size: 0x10_0000, mapType: 'reserved', readOnly: false },
    { gpa: 0x110_0000, size: 0x10_0000, mapType: 'alloc', readOnly: true },
  ];

  it('marks writable RAM available and read-only or reserved regions reserved', () => {
    expect(guestMemoryMap(regions)).toEqual([
      { base: 0, size: 0x100_0000, type: 1 },
      { base: 0x100_0000, size: 0x10_0000, type: 2 },
      { base: 0x110_0000, size: 0x10_0000, type: 2 },
    ]);
  });

  it('writes flags, memory sizes, the memory map, the cmdline and the boot loader name', () => {
    const info = reader(buildMultibootInfo({ memoryMap: guestMemoryMap(regions), cmdline: 'console=ttyS0', modules: [] }));
    expect(info.u32(0)).toBe(MBI_MEMORY | MBI_CMDLINE | MBI_MEMORY_MAP | MBI_BOOT_LOADER_NAME);
    expect(info.u32(4)).toBe(640); // mem_lower
    expect(info.u32(8)).toBe(15 * 1024); // mem_upper: 1 MiB to 16 MiB
    expect(info.string(info.u32(16))).toBe('console=ttyS0');
    expect(info.u32(44)).toBe(3 * 24); // mmap_length
    const mmap = info.u32(48) - BASE;
    expect([info.u32(mmap), info.u64(mmap + 4), info.u64(mmap + 12), info.u32(mmap + 20)]).toEqual([20, 0n, 0x100_0000n, 1]);
    expect([info.u64(mmap + 24 + 4), info.u32(mmap + 24 + 20)]).toEqual([0x100_0000n, 2]);
    expect(info.string(info.u32(64))).toBe('tsvisor');
  });

  it('always gives a cmdline pointer, to an empty string when none is set', () => {
    const info = reader(buildMultibootInfo({ memoryMap: [], cmdline: '', modules: [] }));
    expect(info.u32(0) & MBI_CMDLINE).toBe(MBI_CMDLINE);
    expect(info.string(info.u32(16))).toBe('');
    expect(info.u32(4)).toBe(0);
    expect(info.u32(8)).toBe(0);
  });

  it('lists the images that are modules, with their ranges and strings', () => {
    const images = [{ size: 0x100, segments: [{ gpa: 0x20_0000 }] }, { size: 0x1234, segments: [{ gpa: 0x80_0000 }], moduleString: 'initrd.img' }];
    const info = reader(buildMultibootInfo(multibootInputsOf({ memoryRegions: regions, boot: { cmdline: '' }, images })));
    expect(info.u32(0) & MBI_MODULES).toBe(MBI_MODULES);
    expect(info.u32(20)).toBe(1);
    const module = info.u32(24) - BASE;
    expect([info.u32(module), info.u32(module + 4)]).toEqual([0x80_0000, 0x80_1234]);
    expect(info.string(info.u32(module + 8))).toBe('initrd.img');
  });

  it('refuses to outgrow its 8 KiB area', () => {
    expect(() => buildMultibootInfo({ memoryMap: [], cmdline: 'x'.repeat(9000), modules: [] })).toThrow(MultibootInfoTooLarge);
  });
});
