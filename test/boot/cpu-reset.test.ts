/**
 * The architectural reset state, value by value, against the Intel SDM vol. 3A, 9.1.1 and
 * Table 9-1 "IA-32 and Intel 64 Processor States Following Power-up, Reset, or INIT".
 */
import { describe, expect, it } from 'vitest';
import { processorSignature, resetState, startupSegment, xsaveImage } from '../../src/boot/cpu-reset.js';
import type { KvmCpuidEntry2, KvmSegment, KvmSregs } from '../../src/kvm/index.js';
import { KVM_VCPUEVENT_VALID_NMI_PENDING, KVM_VCPUEVENT_VALID_SHADOW } from '../../src/kvm/index.js';

const SIGNATURE = 0x000a_0f12; // a family 17h part's CPUID.1:EAX

const segment = (overrides: Partial<KvmSegment>): KvmSegment => ({
  base: 0n, limit: 0xffff_ffff, selector: 0x10, type: 3, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, padding: 0, ...overrides,
});

/** What a 64-bit kernel left: long mode, paging, caches on, its own tables, an interrupt queued. */
const LONG_MODE: KvmSregs = {
  cs: segment({ selector: 0x08, type: 0xb, l: 1, db: 0 }), ds: segment({}), es: segment({}), ss: segment({}),
  fs: segment({ base: 0x7000_1000n }), gs: segment({ base: 0xffff_8000_0000_0000n }),
  tr: segment({ selector: 0x28, base: 0x5000n, limit: 0x67, type: 0xb, s: 0, g: 0 }), ldt: segment({ selector: 0, unusable: 1 }),
  gdt: { base: 0x2000n, limit: 0x37, padding: [0, 0, 0] }, idt: { base: 0x3000n, limit: 0xfff, padding: [0, 0, 0] },
  cr0: 0x8005_0033n, cr2: 0xdead_0000n, cr3: 0x4000n, cr4: 0x406a0n, cr8: 0x3n, efer: 0xd01n,
  apic_base: 0xfee0_0800n, interrupt_bitmap: [1n << 0x30n, 0n, 0n, 0n],
};

/** Table 9-1's real-mode segment: limit FFFFH, present, 16-bit, byte granular. */
const realMode = (selector: number, base: bigint, type: number, s = 1): KvmSegment => ({
  base, limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s, l: 0, g: 0, avl: 0, unusable: 0, padding: 0,
});

describe.each(['power-on', 'init'] as const)('the %s reset (SDM vol. 3A, 9.1.1, Table 9-1)', (kind) => {
  const state = resetState(kind, { signature: SIGNATURE, previous: LONG_MODE });

  it('zeroes every general register but EDX, the processor signature (9.1.3); RFLAGS = 2; RIP = FFF0H', () => {
    expect(state.regs).toEqual({
      rax: 0n, rbx: 0n, rcx: 0n, rdx: BigInt(SIGNATURE), rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
      r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
      rip: 0xfff0n, rflags: 2n,
    });
  });

  it('puts CS at F000H based at FFFF0000H, so the first instruction is at FFFFFFF0H (9.1.4)', () => {
    expect(state.sregs.cs).toEqual(realMode(0xf000, 0xffff_0000n, 0xb));
    expect(state.sregs.cs.base + state.regs.rip).toBe(0xffff_fff0n);
  });

  it('zeroes SS, DS, ES, FS and GS, so IA32_FS_BASE and IA32_GS_BASE too: read/write data, limit FFFFH', () => {
    for (const name of ['ss', 'ds', 'es', 'fs', 'gs'] as const) expect(state.sregs[name]).toEqual(realMode(0, 0n, 3));
  });

  it('sets LDTR and TR to selector 0, base 0, limit FFFFH; GDTR and IDTR to base 0, limit FFFFH', () => {
    expect(state.sregs.ldt).toEqual(realMode(0, 0n, 2, 0));
    expect(state.sregs.tr).toEqual(realMode(0, 0n, 0xb, 0)); // a busy TSS: the type VM entry requires of TR
    expect(state.sregs.gdt).toEqual({ base: 0n, limit: 0xffff, padding: [0, 0, 0] });
    expect(state.sregs.idt).toEqual({ base: 0n, limit: 0xffff, padding: [0, 0, 0] });
  });

  it('clears CR2, CR3, CR4, CR8 (the TPR, 10.4.7.1) and EFER, and queues no interrupt', () => {
    const { cr2, cr3, cr4, cr8, efer, interrupt_bitmap } = state.sregs;
    expect({ cr2, cr3, cr4, cr8, efer, interrupt_bitmap }).toEqual({ cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, interrupt_bitmap: [0n, 0n, 0n, 0n] });
  });

  it('keeps IA32_APIC_BASE, which tsvisor\'s Local APIC owns', () => {
    expect(state.sregs.apic_base).toBe(0xfee0_0800n);
  });

  it('sets DR0-DR3 = 0, DR6 = FFFF0FF0H, DR7 = 400H', () => {
    expect(state.debugregs).toEqual({ db: [0n, 0n, 0n, 0n], dr6: 0xffff_0ff0n, dr7: 0x400n, flags: 0n, reserved: new Array(9).fill(0n) });
  });

  it('leaves nothing pending: no exception, interrupt, NMI or interrupt shadow, NMIs unblocked', () => {
    const { exception, interrupt, nmi, flags, smi, triple_fault } = state.events;
    expect(exception).toEqual({ injected: 0, nr: 0, has_error_code: 0, pending: 0, error_code: 0 });
    expect(interrupt).toEqual({ injected: 0, nr: 0, soft: 0, shadow: 0 });
    expect(nmi).toEqual({ injected: 0, pending: 0, masked: 0, pad: 0 });
    // KVM applies the NMI count and the shadow only with their flags; SMM and the SIPI vector are not KVM's to reset here.
    expect(flags).toBe(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW);
    expect([smi, triple_fault.pending, state.events.exception_has_payload]).toEqual([{ smm: 0, pending: 0, smm_inside_nmi: 0, latched_init: 0 }, 0, 0]);
  });
});

describe('what power-on sets and INIT keeps (Table 9-1; 9.1: "during an INIT, the ... MSRs, MTRRs, and x87 FPU state are left unchanged")', () => {
  const powerOn = resetState('power-on', { signature: SIGNATURE, previous: LONG_MODE });
  const init = resetState('init', { signature: SIGNATURE, previous: LONG_MODE });

  it('CR0: 60000010H at power-on; INIT sets ET and keeps only CD and NW (the table\'s note on CR0)', () => {
    expect(powerOn.sregs.cr0).toBe(0x6000_0010n);
    expect(init.sregs.cr0).toBe(0x10n); // the kernel had cleared CD and NW
    expect(resetState('init', { signature: SIGNATURE, previous: { ...LONG_MODE, cr0: 0xe000_0011n } }).sregs.cr0).toBe(0x6000_0010n);
    expect(resetState('init', { signature: SIGNATURE, previous: { ...LONG_MODE, cr0: 0xc000_0011n } }).sregs.cr0).toBe(0x4000_0010n);
  });

  it('x87 FPU: as FNINIT leaves it (FCW 037FH, FSW 0, every register empty); MXCSR = 1F80H; at power-on only', () => {
    expect(powerOn.powerOn?.fpu).toEqual({ fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 });
    expect(init.powerOn).toBeUndefined();
  });

  it('XCR0 = 1 (vol. 3A, 2.6: after reset only bit 0 is set)', () => {
    expect(powerOn.powerOn?.xcr0).toBe(1n);
  });

  it('MSRs: zeroes the SYSENTER and SYSCALL entry points and KERNEL_GS_BASE, sets IA32_PAT to its power-up value (11.12.4), disables the MTRRs', () => {
    expect(powerOn.powerOn?.msrs).toEqual([
      { index: 0x174, data: 0n }, // IA32_SYSENTER_CS
      { index: 0x175, data: 0n }, // IA32_SYSENTER_ESP
      { index: 0x176, data: 0n }, // IA32_SYSENTER_EIP
      { index: 0xc000_0081, data: 0n }, // IA32_STAR
      { index: 0xc000_0082, data: 0n }, // IA32_LSTAR
      { index: 0xc000_0083, data: 0n }, // IA32_CSTAR
      { index: 0xc000_0084, data: 0n }, // IA32_FMASK
      { index: 0xc000_0102, data: 0n }, // IA32_KERNEL_GS_BASE
      { index: 0x277, data: 0x0007_0406_0007_0406n }, // IA32_PAT: WB WT UC- UC, twice
      { index: 0x2ff, data: 0n }, // IA32_MTRR_DEF_TYPE: MTRRs disabled (Table 9-1)
    ]);
  });

  it('both kinds set the same registers otherwise', () => {
    expect(init.regs).toEqual(powerOn.regs);
    expect({ ...init.sregs, cr0: 0n }).toEqual({ ...powerOn.sregs, cr0: 0n });
    expect(init.debugregs).toEqual(powerOn.debugregs);
    expect(init.events).toEqual(powerOn.events);
  });
});

describe('the reset\'s inputs', () => {
  const leaf = (fn: number, eax: number, index = 0): KvmCpuidEntry2 => ({ function: fn, index, flags: 0, eax, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0] });

  it('take the signature from CPUID.1:EAX', () => {
    expect(processorSignature([leaf(0, 0x16), leaf(1, SIGNATURE), leaf(7, 5)])).toBe(SIGNATURE);
  });

  it('refuse a vCPU without CPUID leaf 1, and a signature that is not 32 bits', () => {
    expect(() => processorSignature([leaf(0, 0x16)])).toThrow(/no CPUID leaf 1: set its CPUID \(KVM_SET_CPUID2\) before resetting it/);
    expect(() => resetState('init', { signature: -1, previous: LONG_MODE })).toThrow(RangeError);
    expect(() => resetState('init', { signature: 2 ** 32, previous: LONG_MODE })).toThrow(RangeError);
  });
});

describe('the start-up IPI (SDM vol. 3A, 8.4.3)', () => {
  it('loads CS = vector << 8, based at vector << 12: the AP runs from the page the vector names', () => {
    expect(startupSegment(0x07)).toEqual(realMode(0x0700, 0x7000n, 0xb));
    expect(startupSegment(0xff)).toEqual(realMode(0xff00, 0xff000n, 0xb));
  });

  it('refuses a vector that is not 0-255', () => {
    expect(() => startupSegment(0x100)).toThrow(RangeError);
    expect(() => startupSegment(1.5)).toThrow(RangeError);
  });
});

describe('the XSAVE image KVM_SET_XSAVE takes (SDM vol. 1, 10.5.1 Table 10-2, 13.4)', () => {
  const image = xsaveImage({ fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 });
  const view = new DataView(image.buffer);

  it('is 4096 bytes, struct kvm_xsave\'s region', () => {
    expect(image.length).toBe(4096);
  });

  it('holds FCW at 0, FSW at 2, the abridged FTW at 4 and MXCSR at 24', () => {
    expect([view.getUint16(0, true), view.getUint16(2, true), view.getUint8(4), view.getUint32(24, true)]).toEqual([0x37f, 0, 0, 0x1f80]);
  });

  it('gives the x87 and SSE state (XSTATE_BV = 3 at 512), every register zero, so other components take their initial state', () => {
    expect(view.getBigUint64(512, true)).toBe(3n);
    const nonZero = [...image.keys()].filter((offset) => image[offset] !== 0);
    expect(nonZero).toEqual([0, 1, 24, 25, 512]); // FCW, MXCSR, XSTATE_BV: nothing else
  });
});
