/** kernel.memory_regions: [base_gpa, size, flags, map_type] entries, checked one by one and against each other. */
import { hex } from '../errors.js';
import type { HostFacts } from '../host/cpu.js';
import type { ConfigSource, Table } from './config-source.js';
import { MAP_TYPES, MemoryFlag, type MemoryRegionSpec } from './vm-spec.js';

const PAGE_SIZE = 0x1000;
const KNOWN_FLAGS = BigInt(Object.values(MemoryFlag).reduce((all, flag) => all | flag, 0));
const U64_MAX = 2n ** 64n - 1n;

export function readMemoryRegions(source: ConfigSource, kernel: Table, host: HostFacts): MemoryRegionSpec[] {
  const entries = source.array(source.required(kernel, 'kernel', 'memory_regions'), 'kernel.memory_regions');
  if (entries.length === 0) {
    throw source.error('kernel.memory_regions', 'the list is empty: the guest needs RAM.', 'Add a region such as [0x0, 0x100_0000, 0x7, 0] (16 MiB of RAM at 0).');
  }
  const regions = entries.map((entry, index) => readRegion(source, entry, `kernel.memory_regions[${index}]`, host.physicalAddressBits));
  const clashing = firstOverlap(regions);
  if (clashing) {
    const [region, clash] = clashing;
    if (region.mapType === 'identical' || clash.mapType === 'identical') {
      // AxVisor's Linux configs map [0, 128 MiB) MAP_IDENTICAL and [0, 1 MiB) MAP_ALLOC as "low boot scratch".
      throw source.error(
        region.keyPath,
        `this region (${span(region)}) overlaps ${clash.keyPath.replace('kernel.', '')} (${span(clash)}), a MAP_IDENTICAL one. AxVisor maps a MAP_IDENTICAL region where the host memory it allocates for it lies (guest address = host physical address), not at its configured base, so there the two never meet; tsvisor, a host process, has no host physical addresses to give and maps it at its configured base.`,
        'Drop the region the MAP_IDENTICAL one already covers, or move one of them.',
      );
    }
    throw source.error(region.keyPath, `this region (${span(region)}) overlaps ${clash.keyPath.replace('kernel.', '')} (${span(clash)}).`, 'Make the regions disjoint.');
  }
  warnUnenforceableFlags(source, regions);
  return regions;
}

function readRegion(source: ConfigSource, entry: unknown, path: string, addressBits: number): MemoryRegionSpec {
  const [baseValue, sizeValue, flagsValue, mapTypeValue] = source.tuple(entry, path, ['base_gpa', 'size', 'flags', 'map_type']);
  // Integers are read as bigints and range-checked before they become numbers.
  const base = source.bigInteger(baseValue, `${path}[0]`, { max: U64_MAX });
  const length = source.bigInteger(sizeValue, `${path}[1]`, { min: 1n, max: U64_MAX });
  const flagBits = source.bigInteger(flagsValue, `${path}[2]`, { max: U64_MAX });
  const code = source.bigInteger(mapTypeValue, `${path}[3]`, { max: U64_MAX });
  const mapType = code < BigInt(MAP_TYPES.length) ? MAP_TYPES[Number(code)] : undefined;
  if (mapType === undefined) {
    throw source.error(`${path}[3]`, `unknown map_type ${code}: expected 0 (MAP_ALLOC), 1 (MAP_IDENTICAL) or 2 (MAP_RESERVED).`, 'Use 0 for guest RAM.');
  }
  if (flagBits & ~KNOWN_FLAGS) {
    throw source.error(`${path}[2]`, `flags ${hex(flagBits)} has bits tsvisor does not know (${hex(flagBits & ~KNOWN_FLAGS)}).`, 'Use READ 0x1, WRITE 0x2, EXECUTE 0x4, USER 0x8, DEVICE 0x10 and UNCACHED 0x20 only.');
  }
  const limit = 1n << BigInt(addressBits);
  if (base + length > limit) {
    throw source.error(
      path,
      `the region (${hex(base)}-${hex(base + length - 1n)}) ends above this host's ${addressBits}-bit physical address limit (${hex(limit - 1n)}).`,
      'Move it lower or make it smaller.',
    );
  }
  const [gpa, size, flags] = [Number(base), Number(length), Number(flagBits)];
  if (gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0) {
    throw source.error(path, `base ${hex(gpa)} and size ${hex(size)} must both be multiples of 4 KiB.`, 'Round the region to whole 4 KiB pages.');
  }
  if (mapType !== 'reserved') {
    if (!(flags & MemoryFlag.read)) {
      throw source.error(`${path}[2]`, `flags ${hex(flags)} lack READ (0x1): guest RAM must be readable.`, 'Add READ; an address range that is not memory belongs in devices.emu_devices or devices.passthrough_devices.');
    }
    if (flags & MemoryFlag.device) {
      throw source.error(`${path}[2]`, `flags ${hex(flags)} include DEVICE (0x10): tsvisor maps memory_regions as RAM.`, 'Describe a device in devices.emu_devices or devices.passthrough_devices instead.');
    }
  }
  return { keyPath: path, gpa, size, flags, mapType, readOnly: mapType !== 'reserved' && !(flags & MemoryFlag.write) };
}

/** KVM memory slots cannot forbid execution or make memory uncached: say so once. */
function warnUnenforceableFlags(source: ConfigSource, regions: readonly MemoryRegionSpec[]): void {
  const asked = regions.filter(
    (region) => region.mapType !== 'reserved' && (!(region.flags & MemoryFlag.execute) || region.flags & MemoryFlag.uncached),
  );
  const first = asked[0];
  if (!first) return;
  // Named up to a handful: a config can hold tens of thousands of regions, and one warning line is read whole.
  const named = asked.slice(0, 8).map((region) => region.keyPath.replace('kernel.', '')).join(', ');
  const which = asked.length > 8 ? `${named} and ${asked.length - 8} more regions` : named;
  source.warn(
    first.keyPath,
    `${which} ${asked.length === 1 ? 'asks' : 'ask'} for no-execute or uncached memory, which KVM memory slots cannot enforce: the guest can execute there, and caching follows its own page tables and MTRRs.`,
  );
}

/**
 * Two ranges of non-zero size that overlap, the later one (in `ranges`' order) first; undefined
 * when they are disjoint. Sorted by start, each range can only overlap the one reaching
 * furthest among those before it, so this takes n log n, not n^2: 30,000 regions are checked
 * at once.
 */
export function firstOverlap<T extends { gpa: number; size: number }>(ranges: readonly T[]): [T, T] | undefined {
  const order = ranges.map((_, index) => index).sort((a, b) => (ranges[a] as T).gpa - (ranges[b] as T).gpa || a - b);
  let furthest: number | undefined;
  for (const index of order) {
    const range = ranges[index] as T;
    if (furthest !== undefined) {
      const reaching = ranges[furthest] as T;
      if (range.gpa < reaching.gpa + reaching.size) return index > furthest ? [range, reaching] : [reaching, range];
    }
    if (furthest === undefined || range.gpa + range.size > (ranges[furthest] as T).gpa + (ranges[furthest] as T).size) furthest = index;
  }
  return undefined;
}

/** In ranges sorted by start, the last one that starts at or below `address` (binary search). */
export function lastStartingAtOrBelow<T extends { gpa: number }>(sorted: readonly T[], address: number): T | undefined {
  let [low, high] = [0, sorted.length];
  while (low < high) {
    const middle = (low + high) >>> 1;
    if ((sorted[middle] as T).gpa <= address) low = middle + 1;
    else high = middle;
  }
  return sorted[low - 1];
}

export function overlaps(a: { gpa: number; size: number }, b: { gpa: number; size: number }): boolean {
  return a.gpa < b.gpa + b.size && b.gpa < a.gpa + a.size;
}

export function span(region: { gpa: number; size: number }): string {
  // An empty multiboot module has a place but no bytes.
  if (region.size === 0) return hex(region.gpa);
  return `${hex(region.gpa)}-${hex(region.gpa + region.size - 1)}`;
}
