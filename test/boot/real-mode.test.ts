import { describe, expect, it } from 'vitest';
import { realModeRegs, realModeSregs, realModeStart, startupSregs } from '../../src/boot/real-mode.js';
import type { KvmSegment, KvmSregs } from '../../src/kvm/index.js';

const segment = (selector: number, base: bigint): KvmSegment => ({
  base, limit: 0xffff, selector, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0, padding: 0,
});

describe('real-mode start (the AxVisor reset state)', () => {
  it('starts below 64 KiB with CS = 0 and IP = the entry point', () => {
    expect(realModeStart(0x8000)).toEqual({ csSelector: 0, ip: 0x8000 });
  });

  it('uses the segment that holds a higher entry point', () => {
    expect(realModeStart(0x9_8000)).toEqual({ csSelector: 0x9000, ip: 0x8000 });
    expect(realModeStart(0xf_fff0)).toEqual({ csSelector: 0xf000, ip: 0xfff0 });
  });

  it('refuses an entry point real mode cannot reach', () => {
    expect(() => realModeStart(0x10_0000)).toThrow(RangeError);
  });

  it('sets RIP and RFLAGS = 0x2, everything else zero', () => {
    const regs = realModeRegs(0x8000);
    expect(regs.rip).toBe(0x8000n);
    expect(regs.rflags).toBe(2n);
    expect(Object.entries(regs).filter(([name, value]) => name !== 'rip' && name !== 'rflags' && value !== 0n)).toEqual([]);
  });

  it('moves only CS, keeping KVM\'s other reset state', () => {
    const reset = { cs: segment(0xf000, 0xffff0000n), ds: segment(0, 0n), cr0: 0x60000010n } as unknown as KvmSregs;
    const sregs = realModeSregs(reset, 0x9_8000);
    expect(sregs.cs).toEqual(segment(0x9000, 0x90000n));
    expect(sregs.ds).toBe(reset.ds);
    expect(sregs.cr0).toBe(0x60000010n);
  });

  it('a start-up IPI leaves the state after INIT with CS = vector << 8, whatever ran before (SDM 9.1.1, 8.4.3)', () => {
    const longMode = {
      cs: { ...segment(0x8, 0n), l: 1 }, ds: segment(0x10, 0n), es: segment(0x10, 0n), fs: segment(0x10, 0n), gs: segment(0x10, 0n), ss: segment(0x10, 0n),
      tr: segment(0x18, 0x1000n), ldt: segment(0, 0n),
      gdt: { base: 0x2000n, limit: 0x27, padding: [0, 0, 0] }, idt: { base: 0x3000n, limit: 0xfff, padding: [0, 0, 0] },
      cr0: 0x80050033n, cr2: 5n, cr3: 0x4000n, cr4: 0x20n, cr8: 3n, efer: 0x500n, apic_base: 0xfee00800n, interrupt_bitmap: [1n, 0n, 0n, 0n],
    } as KvmSregs;
    const sregs = startupSregs(longMode, 0x07);
    expect(sregs.cs).toMatchObject({ selector: 0x0700, base: 0x7000n, limit: 0xffff, l: 0, db: 0 });
    for (const name of ['ds', 'es', 'fs', 'gs', 'ss'] as const) expect(sregs[name]).toMatchObject({ selector: 0, base: 0n, limit: 0xffff, type: 3 });
    expect([sregs.cr0, sregs.cr2, sregs.cr3, sregs.cr4, sregs.cr8, sregs.efer]).toEqual([0x60000010n, 0n, 0n, 0n, 0n, 0n]);
    expect([sregs.gdt.limit, sregs.idt.limit, sregs.gdt.base]).toEqual([0xffff, 0xffff, 0n]);
    expect(sregs.interrupt_bitmap).toEqual([0n, 0n, 0n, 0n]);
    expect(sregs.apic_base).toBe(0xfee00800n);
  });
});
