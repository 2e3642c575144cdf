import { describe, expect, it } from 'vitest';
import { realModeSregs, realModeStart } from '../../src/boot/real-mode.js';
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
