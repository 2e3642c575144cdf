/**
 * The GDT and identity page tables tsvisor writes for a kernel it enters directly in
 * protected or long mode (Intel SDM vol. 3A, 3.4.5 "Segment Descriptors" and 5.5 "4-Level
 * Paging"). They live in low memory, 0x1000 upward, below where images usually go; the
 * config layer has checked that nothing else is there.
 */
import type { CpuMode, GuestRange } from './boot-plan.js';

export const BOOT_TABLES_BASE = 0x1000;
export const GDT_ADDRESS = 0x1000;
export const PML4_ADDRESS = 0x2000;
const PDPT_ADDRESS = 0x3000;
const FIRST_PD_ADDRESS = 0x4000;
const PAGE = 0x1000;
const GiB = 2 ** 30;
const TWO_MiB = 2 ** 21;

/** Selectors of the boot GDT: the same layout as the test kernels' own. */
export const BOOT_CS32 = 0x08;
export const BOOT_DS = 0x10;
export const BOOT_CS64 = 0x18;
const GDT = [
  0x0000000000000000n, // null
  0x00cf9a000000ffffn, // 0x08: code, 32-bit, base 0, limit 4 GiB
  0x00cf92000000ffffn, // 0x10: data, base 0, limit 4 GiB
  0x00af9a000000ffffn, // 0x18: code, 64-bit (L = 1)
];
export const GDT_LIMIT = GDT.length * 8 - 1;

const PTE_PRESENT = 1n << 0n;
const PTE_WRITE = 1n << 1n;
const PTE_LARGE = 1n << 7n;

/** Long mode maps at least the low 4 GiB (where the platform's MMIO devices are), and all of RAM. */
function mappedGiB(ramEnd: number): number {
  return Math.max(4, Math.ceil(ramEnd / GiB));
}

/** The guest range the tables occupy. */
export function bootTablesRange(mode: Exclude<CpuMode, 'real'>, ramEnd: number): GuestRange {
  const end = mode === 'long' ? FIRST_PD_ADDRESS + mappedGiB(ramEnd) * PAGE : GDT_ADDRESS + PAGE;
  return { base: BOOT_TABLES_BASE, size: end - BOOT_TABLES_BASE };
}

/** The bytes of the GDT and, for long mode, the page tables, as one block filling `range` (from bootTablesRange()). */
export function buildBootTables(mode: Exclude<CpuMode, 'real'>, range: GuestRange): Uint8Array {
  const bytes = new Uint8Array(range.size);
  const view = new DataView(bytes.buffer);
  const at = (address: number) => address - range.base;
  GDT.forEach((descriptor, i) => view.setBigUint64(at(GDT_ADDRESS) + i * 8, descriptor, true));
  if (mode === 'long') {
    const gib = (range.base + range.size - FIRST_PD_ADDRESS) / PAGE; // one page directory per GiB

    if (gib > 512) throw new RangeError('one PDPT maps 512 GiB at most');
    view.setBigUint64(at(PML4_ADDRESS), BigInt(PDPT_ADDRESS) | PTE_PRESENT | PTE_WRITE, true);
    for (let g = 0; g < gib; g++) {
      const pd = FIRST_PD_ADDRESS + g * PAGE;
      view.setBigUint64(at(PDPT_ADDRESS) + g * 8, BigInt(pd) | PTE_PRESENT | PTE_WRITE, true);
      for (let entry = 0; entry < 512; entry++) {
        const frame = BigInt(g * GiB + entry * TWO_MiB);
        view.setBigUint64(at(pd) + entry * 8, frame | PTE_PRESENT | PTE_WRITE | PTE_LARGE, true);
      }
    }
  }
  return bytes;
}
