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
 * KVM on Intel runs real mode with the help of a three-page TSS and, below it, a one-page
 * identity page table, both in guest physical memory (KVM_SET_TSS_ADDR; the identity map
 * defaults to the page below). tsvisor puts them just below the 4 GiB BIOS area, where
 * QEMU and Firecracker put them; guest RAM must not overlap this range.
 */
export const KVM_REAL_MODE_AREA = { base: 0xfffb_c000, size: 0x4000 } as const;
export const KVM_TSS_ADDRESS = 0xfffb_d000;

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
