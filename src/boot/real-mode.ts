/**
 * The real-mode start AxVisor gives its guests, and tsvisor with it: vCPU 0 starts in real
 * mode at the config's entry_point, from the reset state (cpu-reset.ts). An entry below
 * 64 KiB runs with CS = 0 and IP = the entry, exactly as AxVisor starts its BIOS stub at
 * 0x8000; a higher entry (below 1 MiB) uses the segment that holds it.
 */
import { hex } from '../errors.js';
import type { KvmSregs } from '../kvm/index.js';

export const REAL_MODE_LIMIT = 0x10_0000;

/**
 * KVM on Intel runs real mode with the help of a one-page identity page table and, above it,
 * a three-page TSS, both in guest physical memory below 4 GiB (KVM_SET_IDENTITY_MAP_ADDR,
 * KVM_SET_TSS_ADDR). They must not overlap RAM or a device, so tsvisor places them per VM:
 * where Firecracker does (just below the BIOS area at 0xfffc0000), else where QEMU does (below
 * 0xff000000), else in the highest free 16 KiB below 4 GiB. A config with firmware up to
 * 0xffffffff (a UEFI flash window) thus loads, as under QEMU.
 */
export const KVM_REAL_MODE_AREA_SIZE = 0x4000;
/** The TSS's place in the area: after the identity map's page. */
export const KVM_TSS_OFFSET = 0x1000;
const PREFERRED_REAL_MODE_AREAS = [0xfffb_c000, 0xfeff_c000];
const FOUR_GIB = 2 ** 32;

/** The base of a KVM_REAL_MODE_AREA_SIZE window below 4 GiB that overlaps none of `occupied`, or undefined when there is none. */
export function placeKvmRealModeArea(occupied: readonly { readonly gpa: number; readonly size: number }[]): number | undefined {
  const clash = (base: number) => occupied.find((range) => range.gpa < base + KVM_REAL_MODE_AREA_SIZE && base < range.gpa + range.size);
  const preferred = PREFERRED_REAL_MODE_AREAS.find((base) => !clash(base));
  if (preferred !== undefined) return preferred;
  // Down from 4 GiB, each time to just below what was in the way.
  for (let base = FOUR_GIB - KVM_REAL_MODE_AREA_SIZE; base >= 0; ) {
    const range = clash(base);
    if (!range) return base;
    base = Math.floor((range.gpa - KVM_REAL_MODE_AREA_SIZE) / KVM_REAL_MODE_AREA_SIZE) * KVM_REAL_MODE_AREA_SIZE;
  }
  return undefined;
}

export interface RealModeStart {
  readonly csSelector: number;
  readonly ip: number;
}

/** Splits a real-mode entry address into CS:IP. */
export function realModeStart(entryPoint: number): RealModeStart {
  if (!Number.isInteger(entryPoint) || entryPoint < 0 || entryPoint >= REAL_MODE_LIMIT) {
    throw new RangeError(`real-mode entry ${hex(entryPoint)} is not below 1 MiB`);
  }
  const csSelector = (entryPoint >> 4) & 0xf000;
  return { csSelector, ip: entryPoint - (csSelector << 4) };
}

/** The reset segment state with CS moved to the segment holding `entryPoint`. */
export function realModeSregs(reset: KvmSregs, entryPoint: number): KvmSregs {
  const { csSelector } = realModeStart(entryPoint);
  return { ...reset, cs: { ...reset.cs, selector: csSelector, base: BigInt(csSelector << 4) } };
}
