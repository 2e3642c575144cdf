/**
 * The Multiboot (0.6.96) information structure, section 3.3, written by tsvisor for the
 * kernel: memory sizes, a memory map, the command line, modules and the boot loader name.
 * It lives at 0x6000, where AxVisor puts it (so AxVisor's own BIOS finds it there), with
 * everything it points to in the 8 KiB from there to 0x7fff, below the BIOS at 0x8000.
 */
import type { GuestRange } from './boot-plan.js';

export const MULTIBOOT_INFO_AREA: GuestRange = { base: 0x6000, size: 0x2000 };

/** Flags (section 3.3): which fields are valid. */
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODULES = 1 << 3;
export const MBI_MEMORY_MAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

/** Memory-map entry types. */
export const MEMORY_AVAILABLE = 1;
export const MEMORY_RESERVED = 2;

export const BOOT_LOADER_NAME = 'tsvisor';
const INFO_SIZE = 88; // up to and including the VBE fields
const MMAP_ENTRY_SIZE = 24; // u32 size (20, not counting itself), u64 base, u64 length, u32 type
const MODULE_SIZE = 16; // mod_start, mod_end, string, reserved
const LOW_MEMORY_END = 0xa0000; // 640 KiB: the top of conventional memory
const ONE_MiB = 0x10_0000;

export interface MemoryMapEntry {
  readonly base: number;
  readonly size: number;
  readonly type: typeof MEMORY_AVAILABLE | typeof MEMORY_RESERVED;
}

export interface BootModule {
  readonly start: number;
  readonly end: number;
  readonly name: string;
}

export interface MultibootInputs {
  readonly memoryMap: readonly MemoryMapEntry[];
  readonly cmdline: string;
  readonly modules: readonly BootModule[];
}

/**
 * The memory map a guest is given (in the multiboot information and fw_cfg's etc/e820):
 * writable RAM is available; read-only RAM and reserved holes are reserved, so that the
 * guest never allocates memory its writes cannot change.
 */
export function guestMemoryMap(
  regions: readonly { readonly gpa: number; readonly size: number; readonly mapType: string; readonly readOnly: boolean }[],
): MemoryMapEntry[] {
  return regions.map((region) => ({
    base: region.gpa,
    size: region.size,
    type: region.mapType === 'reserved' || region.readOnly ? MEMORY_RESERVED : MEMORY_AVAILABLE,
  }));
}

/**
 * The multiboot inputs of a VM: its memory map, its command line, and its modules, in the
 * order of its images (the ramdisk first, then [tsvisor] modules), each with the string the
 * config layer gave it.
 */
export function multibootInputsOf(vm: {
  readonly memoryRegions: Parameters<typeof guestMemoryMap>[0];
  readonly boot: { readonly cmdline: string };
  readonly images: readonly { readonly size: number; readonly segments: readonly { readonly gpa: number }[]; readonly moduleString?: string }[];
}): MultibootInputs {
  const modules = vm.images.flatMap(({ size, segments, moduleString }) => {
    const start = segments[0]?.gpa;
    return moduleString === undefined || start === undefined ? [] : [{ start, end: start + size, name: moduleString }];
  });
  return { memoryMap: guestMemoryMap(vm.memoryRegions), cmdline: vm.boot.cmdline, modules };
}

export class MultibootInfoTooLarge extends Error {
  override name = 'MultibootInfoTooLarge';
}

/** The structure and its strings, laid out from MULTIBOOT_INFO_AREA.base, pointers included. */
export function buildMultibootInfo(inputs: MultibootInputs, area: GuestRange = MULTIBOOT_INFO_AREA): Uint8Array {
  const encoder = new TextEncoder();
  const strings = [inputs.cmdline, BOOT_LOADER_NAME, ...inputs.modules.map((module) => module.name)].map((text) => encoder.encode(`${text}\0`));
  const mmapOffset = INFO_SIZE;
  const modulesOffset = mmapOffset + inputs.memoryMap.length * MMAP_ENTRY_SIZE;
  let stringOffset = modulesOffset + inputs.modules.length * MODULE_SIZE;
  const size = stringOffset + strings.reduce((total, text) => total + text.length, 0);
  if (size > area.size) {
    throw new MultibootInfoTooLarge(`the multiboot information needs ${size} bytes, but its area holds ${area.size}`);
  }
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  const stringAddresses = strings.map((text) => {
    bytes.set(text, stringOffset);
    const address = area.base + stringOffset;
    stringOffset += text.length;
    return address;
  });

  let flags = MBI_MEMORY | MBI_CMDLINE | MBI_MEMORY_MAP | MBI_BOOT_LOADER_NAME;
  view.setUint32(4, lowerMemoryKiB(inputs.memoryMap), true); // mem_lower
  view.setUint32(8, upperMemoryKiB(inputs.memoryMap), true); // mem_upper
  view.setUint32(16, stringAddresses[0] as number, true); // cmdline
  if (inputs.modules.length > 0) {
    flags |= MBI_MODULES;
    view.setUint32(20, inputs.modules.length, true); // mods_count
    view.setUint32(24, area.base + modulesOffset, true); // mods_addr
    inputs.modules.forEach((module, i) => {
      const at = modulesOffset + i * MODULE_SIZE;
      view.setUint32(at, module.start, true);
      view.setUint32(at + 4, module.end, true);
      view.setUint32(at + 8, stringAddresses[2 + i] as number, true);
    });
  }
  view.setUint32(44, inputs.memoryMap.length * MMAP_ENTRY_SIZE, true); // mmap_length
  view.setUint32(48, area.base + mmapOffset, true); // mmap_addr
  inputs.memoryMap.forEach((entry, i) => {
    const at = mmapOffset + i * MMAP_ENTRY_SIZE;
    view.setUint32(at, MMAP_ENTRY_SIZE - 4, true);
    view.setBigUint64(at + 4, BigInt(entry.base), true);
    view.setBigUint64(at + 12, BigInt(entry.size), true);
    view.setUint32(at + 20, entry.type, true);
  });
  view.setUint32(64, stringAddresses[1] as number, true); // boot_loader_name
  view.setUint32(0, flags, true);
  return bytes;
}

/** KiB of available memory from address 0, up to 640 KiB. */
function lowerMemoryKiB(map: readonly MemoryMapEntry[]): number {
  return Math.floor(Math.min(contiguousFrom(map, 0), LOW_MEMORY_END) / 1024);
}

/** KiB of available memory from 1 MiB up to the first hole. */
function upperMemoryKiB(map: readonly MemoryMapEntry[]): number {
  return Math.floor((contiguousFrom(map, ONE_MiB) - ONE_MiB) / 1024);
}

/** The end of the available memory that runs without a hole from `start` (or `start` when there is none). */
function contiguousFrom(map: readonly MemoryMapEntry[], start: number): number {
  let end = start;
  for (;;) {
    const next = map.find((entry) => entry.type === MEMORY_AVAILABLE && entry.base <= end && entry.base + entry.size > end);
    if (!next) return end;
    end = next.base + next.size;
  }
}
