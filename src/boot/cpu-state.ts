/**
 * vCPU 0's registers at boot, on top of the reset state (cpu-reset.ts), for each way a kernel
 * can be entered:
 *   - real mode at the entry point (AxVisor's start, real-mode.ts);
 *   - 32-bit protected mode, paging off, flat segments (Multiboot 0.6.96 section 3.2, and
 *     ELF32): EAX = 0x2BADB002 and EBX = the multiboot information for a multiboot kernel;
 *   - 64-bit long mode with tsvisor's identity page tables (ELF64).
 * Everything else is the reset's: interrupts off (RFLAGS = 0x2), EDX the processor signature.
 */
import type { KvmRegs, KvmSegment, KvmSregs } from '../kvm/index.js';
import type { BootSpec } from './boot-plan.js';
import { BOOT_CS32, BOOT_CS64, BOOT_DS, GDT_ADDRESS, GDT_LIMIT, PML4_ADDRESS } from './boot-tables.js';
import { MULTIBOOT_BOOTLOADER_MAGIC } from './multiboot-header.js';
import { realModeSregs, realModeStart } from './real-mode.js';

// Control-register bits (Intel SDM vol. 3A, 2.5 "Control Registers", 2.2.1 "Extended Feature Enable Register").
const CR0_PE = 1n << 0n;
const CR0_ET = 1n << 4n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;

/** Segment type codes (SDM vol. 3A, 3.4.5.1): execute/read code and read/write data, both accessed. */
const TYPE_CODE = 0xb;
const TYPE_DATA = 0x3;

function flatSegment(selector: number, type: number, long: boolean): KvmSegment {
  return {
    base: 0n, limit: 0xffff_ffff, selector, type,
    present: 1, dpl: 0, db: long ? 0 : 1, s: 1, l: long ? 1 : 0, g: 1, avl: 0, unusable: 0, padding: 0,
  };
}

export interface CpuState {
  readonly regs: KvmRegs;
  readonly sregs: KvmSregs;
}

/** The state vCPU 0 starts in, from the state its reset left. */
export function initialCpuState(boot: BootSpec, reset: CpuState): CpuState {
  if (boot.cpuMode === 'real') {
    const { ip } = realModeStart(boot.entryPoint);
    return { regs: { ...reset.regs, rip: BigInt(ip) }, sregs: realModeSregs(reset.sregs, boot.entryPoint) };
  }

  const long = boot.cpuMode === 'long';
  const data = flatSegment(BOOT_DS, TYPE_DATA, false);
  const sregs: KvmSregs = {
    ...reset.sregs,
    cs: flatSegment(long ? BOOT_CS64 : BOOT_CS32, TYPE_CODE, long),
    ds: data, es: data, fs: data, gs: data, ss: data,
    gdt: { base: BigInt(GDT_ADDRESS), limit: GDT_LIMIT, padding: [0, 0, 0] },
    cr0: CR0_PE | CR0_ET | (long ? CR0_PG : 0n),
    cr3: long ? BigInt(PML4_ADDRESS) : 0n,
    cr4: long ? CR4_PAE : 0n,
    efer: long ? EFER_LME | EFER_LMA : 0n,
  };
  const regs: KvmRegs = { ...reset.regs, rip: BigInt(boot.entryPoint) };
  if (boot.kernelFormat === 'multiboot' && boot.multibootInfo) {
    return { sregs, regs: { ...regs, rax: BigInt(MULTIBOOT_BOOTLOADER_MAGIC), rbx: BigInt(boot.multibootInfo.base) } };
  }
  return { sregs, regs };
}
