/**
 * The reset state AxVisor gives its guests, and tsvisor with it: vCPU 0 starts in real
 * mode at the config's entry_point, interrupts off, RFLAGS = 0x2 (bit 1 is reserved and
 * always set). An entry below 64 KiB runs with CS = 0 and IP = the entry, exactly as
 * AxVisor starts its BIOS stub at 0x8000; a higher entry (below 1 MiB) uses the segment
 * that holds it.
 */
import { hex } from '../errors.js';
import type { KvmRegs, KvmSegment, KvmSregs } from '../kvm/index.js';

export const REAL_MODE_LIMIT = 0x10_0000;

/**
 * KVM on Intel runs real mode with the help of a three-page TSS and, below it, a one-page
 * identity page table, both in guest physical memory (KVM_SET_TSS_ADDR; the identity map
 * defaults to the page below). tsvisor puts them just below the 4 GiB BIOS area, where
 * QEMU and Firecracker put them; guest RAM must not overlap this range.
 */
export const KVM_REAL_MODE_AREA = { base: 0xfffb_c000, size: 0x4000 } as const;
export const KVM_TSS_ADDRESS = 0xfffb_d000;
export const RFLAGS_RESERVED = 0x2n;

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

/** The registers for a real-mode start at `entryPoint`. */
export function realModeRegs(entryPoint: number): KvmRegs {
  const { ip } = realModeStart(entryPoint);
  return {
    rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: BigInt(ip),
    rflags: RFLAGS_RESERVED,
  };
}

/** KVM's reset segment state with CS moved to the segment holding `entryPoint`. */
export function realModeSregs(reset: KvmSregs, entryPoint: number): KvmSregs {
  const { csSelector } = realModeStart(entryPoint);
  return { ...reset, cs: { ...reset.cs, selector: csSelector, base: BigInt(csSelector << 4) } };
}

/** CR0 after INIT: CD and NW set, ET set, protection and paging off (SDM vol. 3A, Table 9-1). */
const CR0_AFTER_INIT = 0x6000_0010n;

/** A real-mode segment as INIT leaves it: base selector << 4, 64 KiB limit, present (Table 9-1). */
function realModeSegment(selector: number, type: number, system = 1): KvmSegment {
  return { base: BigInt(selector << 4), limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s: system, l: 0, g: 0, avl: 0, unusable: 0, padding: 0 };
}

/**
 * The segment and control registers a start-up IPI leaves: the state after INIT (SDM vol.
 * 3A, 9.1.1, Table 9-1), whatever the processor ran before, with CS = vector << 8 (base
 * vector << 12) so that it runs from IP 0 in the page the SIPI names (8.4.3).
 */
export function startupSregs(current: KvmSregs, vector: number): KvmSregs {
  const data = realModeSegment(0, 3);
  return {
    ...current,
    cs: realModeSegment((vector & 0xff) << 8, 0xb),
    ds: data, es: data, fs: data, gs: data, ss: data,
    tr: realModeSegment(0, 0xb, 0),
    ldt: realModeSegment(0, 2, 0),
    gdt: { base: 0n, limit: 0xffff, padding: [0, 0, 0] },
    idt: { base: 0n, limit: 0xffff, padding: [0, 0, 0] },
    cr0: CR0_AFTER_INIT, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n,
    interrupt_bitmap: current.interrupt_bitmap.map(() => 0n),
  };
}
