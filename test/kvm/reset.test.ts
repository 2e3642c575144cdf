/**
 * The architectural reset on a real vCPU: what a guest changed, and what KVM had queued for it,
 * does not survive resetVcpu, except what INIT keeps (SDM vol. 3A, 9.1 and Table 9-1).
 */
import { afterEach, expect, it } from 'vitest';
import { resetState } from '../../src/boot/cpu-reset.js';
import { vcpuCpuid } from '../../src/boot/cpuid.js';
import { KVM_TSS_OFFSET, placeKvmRealModeArea } from '../../src/boot/real-mode.js';
import { resetVcpu, startupVcpu } from '../../src/boot/reset-vcpu.js';
import * as kvm from '../../src/kvm/index.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { describeKvm } from '../helpers/kvm.js';

const CODE = 0x8000;
const INTERRUPT_HANDLER = 0x9100;
const NMI_HANDLER = 0x9200;
const VECTOR = 0x20;

/** Real-mode code at CODE that changes what a reset must undo, then halts. */
const CHANGE_EVERYTHING = [
  0x0f, 0x20, 0xc0, //                    mov eax, cr0
  0x66, 0x25, 0xff, 0xff, 0xff, 0x9f, //  and eax, 0x9fffffff      ; caches on: CD = NW = 0
  0x0f, 0x22, 0xc0, //                    mov cr0, eax
  0x0f, 0x20, 0xe0, //                    mov eax, cr4
  0x66, 0x0d, 0x00, 0x02, 0x00, 0x00, //  or eax, 0x200            ; OSFXSR
  0x0f, 0x22, 0xe0, //                    mov cr4, eax
  0x66, 0x31, 0xd2, //                    xor edx, edx
  0x66, 0xb9, 0x74, 0x01, 0x00, 0x00, //  mov ecx, 0x174           ; IA32_SYSENTER_CS = 0x10
  0x66, 0xb8, 0x10, 0x00, 0x00, 0x00, //  mov eax, 0x10
  0x0f, 0x30, //                          wrmsr
  0x66, 0xb9, 0x82, 0x00, 0x00, 0xc0, //  mov ecx, 0xc0000082      ; IA32_LSTAR = 0x201000
  0x66, 0xb8, 0x00, 0x10, 0x20, 0x00, //  mov eax, 0x201000
  0x0f, 0x30, //                          wrmsr
  0x66, 0xb9, 0x80, 0x00, 0x00, 0xc0, //  mov ecx, 0xc0000080      ; IA32_EFER.SCE = 1
  0x66, 0xb8, 0x01, 0x00, 0x00, 0x00, //  mov eax, 1
  0x0f, 0x30, //                          wrmsr
  0x66, 0xb9, 0x77, 0x02, 0x00, 0x00, //  mov ecx, 0x277           ; IA32_PAT: all WB
  0x66, 0xb8, 0x06, 0x06, 0x06, 0x06, //  mov eax, 0x06060606
  0x66, 0xba, 0x06, 0x06, 0x06, 0x06, //  mov edx, 0x06060606
  0x0f, 0x30, //                          wrmsr
  0x66, 0xb8, 0x34, 0x12, 0x00, 0x00, //  mov eax, 0x1234
  0x0f, 0x23, 0xc0, //                    mov dr0, eax
  0x66, 0xb8, 0x00, 0x07, 0x00, 0x00, //  mov eax, 0x700           ; DR7.LE, GE
  0x0f, 0x23, 0xf8, //                    mov dr7, eax
  0xb8, 0x34, 0x12, //                    mov ax, 0x1234
  0x8e, 0xe0, //                          mov fs, ax               ; FS.base = 0x12340
  0xf4, //                                hlt
];
/**
 * What a guest's XSETBV, LDMXCSR and FLDCW would set, set from outside after it halts: XCR0 =
 * x87 | SSE, MXCSR 0x7f80 (round toward zero), FCW 0x027f (53-bit precision). The guest cannot
 * do it on every host: QEMU's emulator (the test VM) runs a nested guest's XSETBV without the VM
 * exit SVM and VMX make of it, so KVM never sees the value; kvm_pvm runs real-mode code in
 * KVM's instruction emulator, which has no LDMXCSR or FLDCW (an emulation failure). KVM_SET_XCRS
 * and KVM_SET_XSAVE put the values where the instructions would.
 */
const GUEST_XCR0 = 3n;
const GUEST_MXCSR = 0x7f80;
const GUEST_FCW = 0x027f;

const IA32_SYSENTER_CS = 0x174;
const IA32_LSTAR = 0xc000_0082;
const IA32_PAT = 0x277;
const POWER_ON_MSRS = [0x174, 0x175, 0x176, 0xc000_0081, 0xc000_0082, 0xc000_0083, 0xc000_0084, 0xc000_0102, 0x277];

describeKvm('the architectural reset on a KVM vCPU', () => {
  const opened: { close(): void }[] = [];
  afterEach(() => opened.splice(0).reverse().forEach((handle) => handle.close()));

  /** A VM with 64 KiB of RAM and one vCPU with tsvisor's CPUID, powered on (reset) and started at CODE as a SIPI would. */
  function guest(code: number[]) {
    const system = kvm.Kvm.open();
    opened.push(system);
    const memory = GuestMemory.allocate([{ gpa: 0, size: 0x10000 }]);
    opened.push({ close: () => memory.release() });
    const vm = system.createVm();
    opened.push(vm);
    const realModeArea = placeKvmRealModeArea([{ gpa: 0, size: 0x10000 }]) as number;
    vm.setIdentityMapAddr(realModeArea);
    vm.setTssAddr(realModeArea + KVM_TSS_OFFSET);
    memory.registerWith(vm);
    memory.write(CODE, Uint8Array.from(code));
    // Real-mode interrupt vectors: the interrupt and the NMI each report themselves on a port.
    memory.write(INTERRUPT_HANDLER, Uint8Array.from([0xe6, 0x11, 0xf4])); // out 0x11, al; hlt
    memory.write(NMI_HANDLER, Uint8Array.from([0xe6, 0x12, 0xf4])); //      out 0x12, al; hlt
    memory.write32(VECTOR * 4, INTERRUPT_HANDLER);
    memory.write32(2 * 4, NMI_HANDLER);
    const vcpu = vm.createVcpu(0);
    opened.push(vcpu);
    const cpuid = vcpuCpuid(system.getSupportedCpuid(), { apicId: 0, tscKhz: vcpu.getTscKhz() }).entries;
    vcpu.setCpuid2(cpuid);
    resetVcpu(vcpu, 'power-on');
    startupVcpu(vcpu, CODE >> 12);
    const signature = cpuid.find((entry) => entry.function === 1)?.eax as number;
    return { vcpu, signature };
  }

  /** What KVM reports as the vCPU's state, in the shapes resetState describes. */
  function readBack(vcpu: kvm.Vcpu) {
    const xsave = new DataView(vcpu.getXsave().buffer);
    return {
      regs: vcpu.getRegs(),
      sregs: vcpu.getSregs(),
      debugregs: vcpu.getDebugregs(),
      events: vcpu.getVcpuEvents(),
      xcr0: vcpu.getXcrs().find((xcr) => xcr.xcr === 0)?.value,
      fcw: xsave.getUint16(0, true),
      mxcsr: xsave.getUint32(24, true),
      msrs: vcpu.getMsrs(POWER_ON_MSRS),
    };
  }

  function runChangedGuest() {
    const { vcpu, signature } = guest(CHANGE_EVERYTHING);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT);
    vcpu.setXcrs([{ xcr: 0, value: GUEST_XCR0 }]);
    const xsave = vcpu.getXsave();
    const fpu = new DataView(xsave.buffer, xsave.byteOffset);
    fpu.setUint16(0, GUEST_FCW, true); // the legacy region's FCW and MXCSR (SDM vol. 1, 10.5.1)
    fpu.setUint32(24, GUEST_MXCSR, true);
    fpu.setBigUint64(512, fpu.getBigUint64(512, true) | 3n, true); // XSTATE_BV: x87 and SSE state from this image
    vcpu.setXsave(xsave);
    const changed = readBack(vcpu);
    // The guest did change all of it.
    expect(changed.sregs).toMatchObject({ cr0: 0x10n, cr4: 0x200n, efer: 1n });
    expect(changed.sregs.fs.base).toBe(0x12340n);
    expect([changed.xcr0, changed.mxcsr, changed.fcw]).toEqual([GUEST_XCR0, GUEST_MXCSR, GUEST_FCW]);
    expect([changed.debugregs.dr7 & 0xffffn, changed.debugregs.db[0]]).toEqual([0x700n, 0x1234n]);
    expect([changed.msrs.get(IA32_SYSENTER_CS), changed.msrs.get(IA32_LSTAR), changed.msrs.get(IA32_PAT)]).toEqual([0x10n, 0x201000n, 0x0606060606060606n]);
    return { vcpu, signature, changed };
  }

  function expectResetRegisters(vcpu: kvm.Vcpu, expected: ReturnType<typeof resetState>) {
    const now = readBack(vcpu);
    expect(now.regs).toEqual(expected.regs);
    expect(now.sregs).toEqual(expected.sregs);
    expect(now.debugregs).toEqual(expected.debugregs);
    expect(now.events).toMatchObject({ exception: expected.events.exception, interrupt: expected.events.interrupt, nmi: expected.events.nmi });
    return now;
  }

  it('a power-on reset undoes everything the guest changed: registers, XCR0, MXCSR, FCW, DR0/DR7, the MSRs', () => {
    const { vcpu, signature, changed } = runChangedGuest();
    resetVcpu(vcpu, 'power-on');
    const now = expectResetRegisters(vcpu, resetState('power-on', { signature, previous: changed.sregs }));
    expect(now.regs).toMatchObject({ rip: 0xfff0n, rflags: 2n, rdx: BigInt(signature) });
    expect(now.sregs).toMatchObject({ cr0: 0x6000_0010n, cr4: 0n, efer: 0n });
    expect([now.xcr0, now.mxcsr, now.fcw]).toEqual([1n, 0x1f80, 0x37f]);
    expect(now.debugregs).toMatchObject({ db: [0n, 0n, 0n, 0n], dr6: 0xffff_0ff0n, dr7: 0x400n });
    expect(Object.fromEntries(now.msrs)).toEqual(Object.fromEntries(POWER_ON_MSRS.map((index) => [index, index === IA32_PAT ? 0x0007_0406_0007_0406n : 0n])));
    // And the vCPU runs from that state: started again at CODE, it reaches the HLT.
    startupVcpu(vcpu, CODE >> 12);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT);
  });

  it('INIT resets the registers, EFER and DR0/DR7, but keeps XCR0, MXCSR, the x87 FPU, CR0.CD/NW and the MSRs (Table 9-1)', () => {
    const { vcpu, signature, changed } = runChangedGuest();
    resetVcpu(vcpu, 'init');
    const now = expectResetRegisters(vcpu, resetState('init', { signature, previous: changed.sregs }));
    expect(now.sregs).toMatchObject({ cr0: 0x10n, cr4: 0n, efer: 0n });
    expect(now.sregs.fs.base).toBe(0n);
    expect(now.debugregs).toMatchObject({ db: [0n, 0n, 0n, 0n], dr7: 0x400n });
    expect([now.xcr0, now.mxcsr, now.fcw]).toEqual([GUEST_XCR0, GUEST_MXCSR, GUEST_FCW]);
    expect(now.msrs).toEqual(changed.msrs);
    startupVcpu(vcpu, CODE >> 12);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT);
  });

  it('without a reset, a vector queued with KVM_INTERRUPT and an NMI queued with KVM_NMI are delivered at the next entry', () => {
    const { vcpu } = guest([0xf4]);
    vcpu.interrupt(VECTOR);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_IO);
    expect(vcpu.kvmRun.ioPort).toBe(0x11);
    const second = guest([0xf4]).vcpu;
    second.nmi();
    expect(second.run()).toBe(kvm.KVM_EXIT_IO);
    expect(second.kvmRun.ioPort).toBe(0x12);
  });

  it.each(['power-on', 'init'] as const)('the %s reset drops a vector queued with KVM_INTERRUPT', (kind) => {
    const { vcpu } = guest([0xf4]);
    vcpu.interrupt(VECTOR);
    expect(vcpu.getVcpuEvents().interrupt).toMatchObject({ injected: 1, nr: VECTOR });
    resetVcpu(vcpu, kind);
    expect(vcpu.getVcpuEvents().interrupt).toEqual({ injected: 0, nr: 0, soft: 0, shadow: 0 });
    expect(vcpu.getSregs().interrupt_bitmap).toEqual([0n, 0n, 0n, 0n]);
    startupVcpu(vcpu, CODE >> 12);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT); // not the handler's OUT to port 0x11
  });

  it.each(['power-on', 'init'] as const)('the %s reset drops an NMI queued with KVM_NMI', (kind) => {
    const { vcpu } = guest([0xf4]);
    vcpu.nmi();
    expect(vcpu.getVcpuEvents().nmi.pending).toBe(1);
    resetVcpu(vcpu, kind);
    expect(vcpu.getVcpuEvents().nmi).toEqual({ injected: 0, pending: 0, masked: 0, pad: 0 });
    startupVcpu(vcpu, CODE >> 12);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT); // not the handler's OUT to port 0x12
  });

  it('a reset clears an injected exception, NMI blocking and an STI interrupt shadow', () => {
    const { vcpu } = guest([0xf4]);
    const events = vcpu.getVcpuEvents();
    const KVM_X86_SHADOW_INT_STI = 0x2;
    vcpu.setVcpuEvents({
      ...events,
      exception: { injected: 1, nr: 13, has_error_code: 1, pending: 0, error_code: 0 },
      interrupt: { ...events.interrupt, shadow: KVM_X86_SHADOW_INT_STI },
      nmi: { ...events.nmi, masked: 1 },
      flags: kvm.KVM_VCPUEVENT_VALID_SHADOW,
    });
    const before = vcpu.getVcpuEvents();
    expect(before).toMatchObject({ exception: { injected: 1, nr: 13 }, nmi: { masked: 1 } });
    expect(before.interrupt.shadow).not.toBe(0); // SVM has one shadow bit: KVM reports it as both STI and MOV SS
    resetVcpu(vcpu, 'init');
    expect(vcpu.getVcpuEvents()).toMatchObject({
      exception: { injected: 0, pending: 0, has_error_code: 0 },
      interrupt: { injected: 0, shadow: 0 },
      nmi: { injected: 0, pending: 0, masked: 0 },
    });
  });
});
