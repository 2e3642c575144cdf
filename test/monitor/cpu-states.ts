/** vCPU states for the register dump's tests, in the shapes KVM returns them. */
import type { KvmRegs, KvmSegment, KvmSregs } from '../../src/kvm/index.js';
import type { CpuDumpState } from '../../src/monitor/cpu-dump.js';

export const ZERO_REGS: KvmRegs = {
  rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
  r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n, rip: 0n, rflags: 0n,
};

export function segment(selector: number, base: bigint, limit: number, type: number, bits: Partial<KvmSegment> = {}): KvmSegment {
  return { selector, base, limit, type, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0, padding: 0, ...bits };
}

export function fxsave(fcw: number, mxcsr: number): Uint8Array {
  const area = new Uint8Array(4096);
  const view = new DataView(area.buffer);
  view.setUint16(0, fcw, true);
  view.setUint32(24, mxcsr, true);
  return area;
}

export const DEBUG = { db: [0n, 0n, 0n, 0n], dr6: 0xffff0ff0n, dr7: 0x400n, flags: 0n, reserved: [] } as unknown as CpuDumpState['debugregs'];

export function sregs(bits: Partial<KvmSregs>): KvmSregs {
  return { cr8: 0n, apic_base: 0n, interrupt_bitmap: [], ...bits } as unknown as KvmSregs;
}

/** A CPU at reset in real mode, every register zero. */
export function resetCpuState(): CpuDumpState {
  const data = segment(0, 0n, 0xffff, 3);
  return {
    regs: ZERO_REGS,
    sregs: sregs({ es: data, cs: segment(0xf000, 0xffff0000n, 0xffff, 0xb), ss: data, ds: data, fs: data, gs: data, ldt: segment(0, 0n, 0xffff, 2, { s: 0 }), tr: segment(0, 0n, 0xffff, 0xb, { s: 0 }), gdt: { base: 0n, limit: 0, padding: [] }, idt: { base: 0n, limit: 0xffff, padding: [] }, cr0: 0x60000010n, cr2: 0n, cr3: 0n, cr4: 0n, efer: 0n } as Partial<KvmSregs>),
    debugregs: DEBUG,
    xsave: fxsave(0x37f, 0x1f80),
    interruptShadow: false,
    halted: false,
  };
}
