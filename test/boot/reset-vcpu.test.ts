/** resetVcpu and startupVcpu against a fake vCPU that records each call: what is written, and in which order. */
import { describe, expect, it } from 'vitest';
import { resetState, xsaveImage } from '../../src/boot/cpu-reset.js';
import { resetVcpu, startupVcpu, type ResettableVcpu } from '../../src/boot/reset-vcpu.js';
import type { KvmCpuidEntry2, KvmRegs, KvmSregs } from '../../src/kvm/index.js';

const SIGNATURE = 0x0009_06ea;
const CPUID: KvmCpuidEntry2[] = [
  { function: 0, index: 0, flags: 0, eax: 0x16, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0] },
  { function: 1, index: 0, flags: 0, eax: SIGNATURE, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0] },
];

type Call = { readonly name: keyof ResettableVcpu; readonly value?: unknown };

/** A vCPU whose state is whatever was set last, starting from `sregs` and `regs`. */
function fakeVcpu(sregs: KvmSregs, regs: KvmRegs, cpuid = CPUID) {
  const calls: Call[] = [];
  const state = { sregs, regs };
  const vcpu: ResettableVcpu = {
    getCpuid2: () => (calls.push({ name: 'getCpuid2' }), cpuid),
    getSregs: () => (calls.push({ name: 'getSregs' }), state.sregs),
    setSregs: (value) => (calls.push({ name: 'setSregs', value }), (state.sregs = value)),
    getRegs: () => (calls.push({ name: 'getRegs' }), state.regs),
    setRegs: (value) => (calls.push({ name: 'setRegs', value }), (state.regs = value)),
    setDebugregs: (value) => void calls.push({ name: 'setDebugregs', value }),
    setVcpuEvents: (value) => void calls.push({ name: 'setVcpuEvents', value }),
    setXsave: (value) => void calls.push({ name: 'setXsave', value }),
    setXcrs: (value) => void calls.push({ name: 'setXcrs', value }),
    setMsrs: (value) => void calls.push({ name: 'setMsrs', value }),
  };
  return { vcpu, calls, state };
}

const segment = { base: 0n, limit: 0xffff_ffff, selector: 0x10, type: 3, present: 1, dpl: 0, db: 1, s: 1, l: 0, g: 1, avl: 0, unusable: 0, padding: 0 };
const RUNNING: KvmSregs = {
  cs: { ...segment, selector: 8, type: 0xb }, ds: segment, es: segment, fs: segment, gs: segment, ss: segment, tr: segment, ldt: segment,
  gdt: { base: 0x1000n, limit: 0x1f, padding: [0, 0, 0] }, idt: { base: 0x2000n, limit: 0x7ff, padding: [0, 0, 0] },
  cr0: 0x11n, cr2: 0n, cr3: 0n, cr4: 0x200n, cr8: 0n, efer: 0n, apic_base: 0xfee0_0800n, interrupt_bitmap: [0n, 0n, 1n, 0n],
};
const REGS: KvmRegs = {
  rax: 1n, rbx: 2n, rcx: 3n, rdx: 4n, rsi: 5n, rdi: 6n, rsp: 7n, rbp: 8n, r8: 9n, r9: 10n, r10: 11n, r11: 12n, r12: 13n, r13: 14n, r14: 15n, r15: 16n,
  rip: 0x10_0000n, rflags: 0x202n,
};

describe('resetVcpu', () => {
  it('at power-on writes the FPU, XCR0 and MSRs, then the segment and general registers, the debug registers, and last the events', () => {
    const { vcpu, calls } = fakeVcpu(RUNNING, REGS);
    resetVcpu(vcpu, 'power-on');
    const expected = resetState('power-on', { signature: SIGNATURE, previous: RUNNING });
    expect(calls).toEqual([
      { name: 'getCpuid2' },
      { name: 'getSregs' },
      { name: 'setXsave', value: xsaveImage({ fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 }) },
      { name: 'setXcrs', value: [{ xcr: 0, value: 1n }] },
      { name: 'setMsrs', value: expected.powerOn?.msrs },
      { name: 'setSregs', value: expected.sregs },
      { name: 'setRegs', value: expected.regs },
      { name: 'setDebugregs', value: expected.debugregs },
      { name: 'setVcpuEvents', value: expected.events },
    ]);
  });

  it('on INIT leaves the FPU, XCR0 and the MSRs alone, and keeps CR0.CD/NW and IA32_APIC_BASE from the vCPU', () => {
    const { vcpu, calls, state } = fakeVcpu({ ...RUNNING, cr0: 0x6000_0011n }, REGS);
    resetVcpu(vcpu, 'init');
    expect(calls.map((call) => call.name)).toEqual(['getCpuid2', 'getSregs', 'setSregs', 'setRegs', 'setDebugregs', 'setVcpuEvents']);
    expect(state.sregs).toMatchObject({ cr0: 0x6000_0010n, apic_base: 0xfee0_0800n, interrupt_bitmap: [0n, 0n, 0n, 0n] });
    expect(state.regs).toMatchObject({ rdx: BigInt(SIGNATURE), rip: 0xfff0n, rflags: 2n, rax: 0n, r15: 0n });
  });

  it('refuses a vCPU whose CPUID is not set, before writing anything', () => {
    const { vcpu, calls } = fakeVcpu(RUNNING, REGS, []);
    expect(() => resetVcpu(vcpu, 'init')).toThrow(/KVM_SET_CPUID2/);
    expect(calls.filter((call) => call.name.startsWith('set'))).toEqual([]);
  });
});

describe('startupVcpu', () => {
  it('moves a reset vCPU to vector << 12, IP 0, and changes nothing else', () => {
    const reset = resetState('init', { signature: SIGNATURE, previous: RUNNING });
    const { vcpu, state } = fakeVcpu(reset.sregs, reset.regs);
    startupVcpu(vcpu, 0x9a);
    expect(state.sregs).toEqual({ ...reset.sregs, cs: { ...reset.sregs.cs, selector: 0x9a00, base: 0x9_a000n } });
    expect(state.regs).toEqual({ ...reset.regs, rip: 0n });
  });

  it('refuses a vector that is not 0-255, before writing anything', () => {
    const { vcpu, calls } = fakeVcpu(RUNNING, REGS);
    expect(() => startupVcpu(vcpu, 256)).toThrow(RangeError);
    expect(calls).toEqual([]);
  });
});
