/** The two backings of guest RAM, as the kernel sees them in /proc/self/smaps and /proc/self/pagemap. */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { mapHostMemory, unmapHostMemory } from '../../src/memory/host-mapping.js';

/** The smaps fields (in KiB) of the mapping that starts at `address`. */
function smaps(address: bigint): Record<string, number> {
  const lines = readFileSync('/proc/self/smaps', 'utf8').split('\n');
  const start = lines.findIndex((line) => line.startsWith(`${address.toString(16)}-`));
  expect(start).toBeGreaterThanOrEqual(0);
  const fields: Record<string, number> = {};
  for (const line of lines.slice(start + 1)) {
    const match = /^(\w+):\s+(\d+) kB$/.exec(line);
    if (!match) {
      if (/^[0-9a-f]+-/.test(line)) break;
      continue;
    }
    fields[match[1] as string] = Number(match[2]);
  }
  return fields;
}

/**
 * How many pages of [address, address + size) are resident, from /proc/self/pagemap (one u64
 * per page, bit 63 "present"). Unlike smaps's Rss this counts exactly the range: the kernel
 * may merge a fresh mapping with a neighbouring one into one smaps entry.
 */
function residentPages(address: bigint, size: number): number {
  const entries = new BigUint64Array(size / 4096);
  const fd = openSync('/proc/self/pagemap', 'r');
  try {
    readSync(fd, entries, 0, entries.byteLength, Number(address / 4096n) * 8);
  } finally {
    closeSync(fd);
  }
  return entries.filter((entry) => entry >> 63n === 1n).length;
}

const SIZE = 4 * 1024 * 1024;

describe('host memory behind guest RAM', () => {
  it('MAP_IDENTICAL: a memfd mapping, prefaulted and locked for its whole size', () => {
    const mapping = mapHostMemory('pinned', SIZE, 0x100_0000);
    try {
      expect(mapping.fd).toBeGreaterThanOrEqual(0);
      const fields = smaps(mapping.address);
      expect(fields.Locked).toBe(SIZE / 1024);
      expect(fields.Rss).toBe(SIZE / 1024);
      expect(residentPages(mapping.address, SIZE)).toBe(SIZE / 4096);
      expect(readFileSync(`/proc/self/fd/${mapping.fd}`).length).toBe(SIZE); // another process could map it too
    } finally {
      unmapHostMemory(mapping);
    }
  });

  it('MAP_ALLOC: anonymous, demand-paged, nothing resident or locked until touched', () => {
    const mapping = mapHostMemory('anonymous', SIZE, 0);
    try {
      expect(mapping.fd).toBe(-1);
      expect(residentPages(mapping.address, SIZE)).toBe(0);
      expect(smaps(mapping.address).Locked).toBe(0);
    } finally {
      unmapHostMemory(mapping);
    }
  });
});
