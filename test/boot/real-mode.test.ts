import { describe, expect, it } from 'vitest';
import { KVM_REAL_MODE_AREA_SIZE, placeKvmRealModeArea, realModeSregs, realModeStart } from '../../src/boot/real-mode.js';
import type { KvmSegment, KvmSregs } from '../../src/kvm/index.js';

const segment = (selector: number, base: bigint): KvmSegment => ({
  base, limit: 0xffff, selector, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0, padding: 0,
});

describe('real-mode start (AxVisor\'s)', () => {
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

  it('moves only CS, keeping the rest of the reset state', () => {
    const reset = { cs: segment(0xf000, 0xffff0000n), ds: segment(0, 0n), cr0: 0x60000010n } as unknown as KvmSregs;
    const sregs = realModeSregs(reset, 0x9_8000);
    expect(sregs.cs).toEqual(segment(0x9000, 0x90000n));
    expect(sregs.ds).toBe(reset.ds);
    expect(sregs.cr0).toBe(0x60000010n);
  });
});

describe('the place of KVM\'s real-mode pages (identity page table, then TSS)', () => {
  const MiB = 0x10_0000;
  it('is Firecracker\'s, 0xfffbc000, when nothing is there', () => {
    expect(placeKvmRealModeArea([{ gpa: 0, size: 16 * MiB }, { gpa: 0xfee0_0000, size: 0x1000 }])).toBe(0xfffb_c000);
  });

  it('moves to QEMU\'s, 0xfeffc000, under firmware that reaches 4 GiB (a UEFI flash window at 0xffc00000)', () => {
    expect(placeKvmRealModeArea([{ gpa: 0xffc0_0000, size: 4 * MiB }])).toBe(0xfeff_c000);
    expect(placeKvmRealModeArea([{ gpa: 0xfff0_0000, size: MiB }])).toBe(0xfeff_c000);
  });

  it('otherwise takes the highest free 16 KiB below 4 GiB, just under what is in the way', () => {
    expect(placeKvmRealModeArea([{ gpa: 0xf000_0000, size: 0x1000_0000 }])).toBe(0xf000_0000 - KVM_REAL_MODE_AREA_SIZE);
    // A hole too small for 16 KiB is passed over.
    const regions = [{ gpa: 0x1000_0000, size: 0xeff0_0000 }, { gpa: 0xfff0_2000, size: 0xf_e000 }, { gpa: 0x0fff_0000, size: 0x1_0000 }];
    expect(placeKvmRealModeArea(regions)).toBe(0x0fff_0000 - KVM_REAL_MODE_AREA_SIZE);
  });

  it('is nowhere when nothing below 4 GiB is free', () => {
    expect(placeKvmRealModeArea([{ gpa: 0, size: 2 ** 32 }])).toBeUndefined();
    expect(placeKvmRealModeArea([{ gpa: 0, size: 0xfee0_0000 }, { gpa: 0xfee0_1000, size: 0x11f_f000 }])).toBeUndefined();
  });
});
