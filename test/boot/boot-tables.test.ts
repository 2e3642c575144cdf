/** The GDT and identity page tables tsvisor writes for direct boots, and the CPU state that uses them. */
import { describe, expect, it } from 'vitest';
import { BOOT_CS32, BOOT_CS64, BOOT_DS, bootTablesRange, buildBootTables } from '../../src/boot/boot-tables.js';
import type { BootSpec } from '../../src/boot/boot-plan.js';
import { resetState } from '../../src/boot/cpu-reset.js';
import { initialCpuState } from '../../src/boot/cpu-state.js';
import type { KvmSregs } from '../../src/kvm/index.js';

const GiB = 2 ** 30;

describe('boot tables', () => {
  it('hold only the GDT for protected mode, and page directories for at least 4 GiB in long mode', () => {
    expect(bootTablesRange('protected', 16 * 2 ** 20)).toEqual({ base: 0x1000, size: 0x1000 });
    expect(bootTablesRange('long', 16 * 2 ** 20)).toEqual({ base: 0x1000, size: 0x7000 });
    expect(bootTablesRange('long', 6 * GiB)).toEqual({ base: 0x1000, size: 0x9000 });
  });

  it('identity-map with 2 MiB pages: PML4 -> PDPT -> page directories', () => {
    const range = bootTablesRange('long', 16 * 2 ** 20);
    const view = new DataView(buildBootTables('long', range).buffer);
    const at = (address: number, index = 0) => view.getBigUint64(address - range.base + index * 8, true);
    expect(at(0x1000, 1)).toBe(0x00cf9a000000ffffn); // 32-bit code at 0x08
    expect(at(0x1000, 3)).toBe(0x00af9a000000ffffn); // 64-bit code at 0x18
    expect(at(0x2000)).toBe(0x3000n | 3n);
    expect(at(0x3000, 3)).toBe(0x7000n | 3n);
    expect(at(0x4000)).toBe(0x83n);
    // 0xfee00000 (the LAPIC) is in the fourth GiB, entry 0x1f7 of its directory.
    expect(at(0x7000, 0x1f7)).toBe(0xfee00000n | 0x83n);
  });
});

const SIGNATURE = 0x60fb1;
const RESET = resetState('power-on', { signature: SIGNATURE, previous: { apic_base: 0xfee00900n } as KvmSregs });

const boot = (overrides: Partial<BootSpec>): BootSpec => ({
  method: 'direct', firmware: 'none', kernelFormat: 'elf64', cpuMode: 'long', entryPoint: 0x200000, kernelEntry: 0x200000,
  cmdline: '', multibootInfo: undefined, bootTables: { base: 0x1000, size: 0x7000 }, ...overrides,
});

describe('initialCpuState', () => {
  it('enters a multiboot kernel in 32-bit protected mode with EAX = 0x2BADB002 and EBX = the information', () => {
    const { regs, sregs } = initialCpuState(boot({ kernelFormat: 'multiboot', cpuMode: 'protected', multibootInfo: { base: 0x6000, size: 0x2000 } }), RESET);
    expect([regs.rip, regs.rax, regs.rbx, regs.rflags]).toEqual([0x200000n, 0x2badb002n, 0x6000n, 2n]);
    expect(sregs.cs).toMatchObject({ selector: BOOT_CS32, base: 0n, limit: 0xffffffff, db: 1, l: 0, g: 1 });
    expect(sregs.ss).toMatchObject({ selector: BOOT_DS, db: 1 });
    expect([sregs.cr0 & 0x80000001n, sregs.efer, sregs.gdt.base]).toEqual([1n, 0n, 0x1000n]);
  });

  it('enters an ELF64 kernel in long mode with paging on tsvisor\'s tables', () => {
    const { regs, sregs } = initialCpuState(boot({}), RESET);
    expect([regs.rip, regs.rax, regs.rsp, regs.rflags]).toEqual([0x200000n, 0n, 0n, 2n]);
    expect(regs.rdx).toBe(BigInt(SIGNATURE)); // the reset's, which the boot leaves alone
    expect(sregs.cs).toMatchObject({ selector: BOOT_CS64, l: 1, db: 0 });
    expect([sregs.cr0 & 0x80000001n, sregs.cr3, sregs.cr4, sregs.efer]).toEqual([0x80000001n, 0x2000n, 0x20n, 0x500n]);
  });

  it('starts a flat image in real mode at the entry point', () => {
    const { regs, sregs } = initialCpuState(boot({ kernelFormat: 'flat', cpuMode: 'real', entryPoint: 0x8000, bootTables: undefined }), RESET);
    expect([regs.rip, sregs.cs.selector, sregs.cs.base, sregs.cr0]).toEqual([0x8000n, 0, 0n, 0x60000010n]);
    expect({ ...regs, rip: RESET.regs.rip }).toEqual(RESET.regs);
    expect({ ...sregs, cs: RESET.sregs.cs }).toEqual(RESET.sregs);
  });
});
