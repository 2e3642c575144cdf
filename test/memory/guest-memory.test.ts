import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { GuestMemory, GuestMemoryError } from '../../src/memory/guest-memory.js';

const MiB = 1024 * 1024;
const live: GuestMemory[] = [];
function allocate(regions: { gpa: number; size: number }[]): GuestMemory {
  const memory = GuestMemory.allocate(regions);
  live.push(memory);
  return memory;
}
afterEach(() => live.splice(0).forEach((memory) => memory.release()));

function residentKiB(): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return Number(match?.[1]);
}

describe('GuestMemory', () => {
  it('starts zero-filled and reads back what is written at every width, little-endian', () => {
    const memory = allocate([{ gpa: 0, size: MiB }]);
    expect(memory.read64(0x1000)).toBe(0n);
    memory.write8(0x10, 0xab);
    memory.write16(0x20, 0xbeef);
    memory.write32(0x30, 0xdeadbeef);
    memory.write64(0x40, 0x0123456789abcdefn);
    expect(memory.read8(0x10)).toBe(0xab);
    expect(memory.read16(0x20)).toBe(0xbeef);
    expect(memory.read32(0x30)).toBe(0xdeadbeef);
    expect(memory.read64(0x40)).toBe(0x0123456789abcdefn);
    expect(Array.from(memory.read(0x20, 2))).toEqual([0xef, 0xbe]);
  });

  it('copies images in and out, also across two adjacent regions', () => {
    const memory = allocate([
      { gpa: 0x10_0000, size: 0x1000 },
      { gpa: 0x10_1000, size: 0x1000 },
    ]);
    const image = Uint8Array.from({ length: 0x20 }, (_, i) => i);
    memory.write(0x10_0ff0, image);
    expect(memory.read(0x10_0ff0, 0x20)).toEqual(image);
    expect(memory.read32(0x10_0ffe)).toBe(0x11100f0e); // a sized access straddling the regions
    memory.write64(0x10_0ffc, 0x1122334455667788n);
    expect(memory.read64(0x10_0ffc)).toBe(0x1122334455667788n);
  });

  it('throws a GuestMemoryError for any byte outside RAM and writes nothing', () => {
    const memory = allocate([{ gpa: 0x1000, size: 0x1000 }]);
    expect(() => memory.read8(0xfff)).toThrow(GuestMemoryError);
    expect(() => memory.read32(0x1ffe)).toThrow(
      'Guest physical address 0x1ffe-0x2001 (4 bytes) is outside guest RAM: guest RAM is 0x1000-0x1fff.',
    );
    expect(() => memory.write(0x1ff0, new Uint8Array(0x20).fill(1))).toThrow(GuestMemoryError);
    expect(memory.read8(0x1ff0)).toBe(0); // the failed write left no partial copy
    expect(() => memory.write64(-8, 1n)).toThrow(GuestMemoryError);
    expect(() => memory.read(2 ** 60, 1)).toThrow(GuestMemoryError);
  });

  it('answers contains() for ranges', () => {
    const memory = allocate([{ gpa: 0, size: 0x2000 }]);
    expect(memory.contains(0, 0x2000)).toBe(true);
    expect(memory.contains(0x1fff, 2)).toBe(false);
    expect(memory.contains(0x10, 0)).toBe(false);
  });

  it('refuses regions that are not whole pages', () => {
    expect(() => GuestMemory.allocate([{ gpa: 0x800, size: 0x1000 }])).toThrow(GuestMemoryError);
    expect(() => GuestMemory.allocate([{ gpa: 0, size: 0x1800 }])).toThrow(GuestMemoryError);
  });

  it('reserves without committing: 4 GiB of guest RAM costs no resident memory until touched', () => {
    const before = residentKiB();
    const memory = allocate([{ gpa: 0, size: 4 * 1024 * MiB }]);
    expect(residentKiB() - before).toBeLessThan(16 * 1024);
    memory.write8(3 * 1024 * MiB + 5, 7); // beyond the first 1 GiB chunk
    expect(memory.read8(3 * 1024 * MiB + 5)).toBe(7);
  });

  it('refuses every access after release', () => {
    const memory = GuestMemory.allocate([{ gpa: 0, size: 0x1000 }]);
    memory.release();
    expect(() => memory.read8(0)).toThrow('Guest physical address 0x0 is outside guest RAM: guest memory has been released.');
  });
});
