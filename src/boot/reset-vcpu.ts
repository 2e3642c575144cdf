/**
 * Applies the architectural reset (cpu-reset.ts) to a vCPU, in the shape of kvmtool's
 * kvm_cpu__reset_vcpu: each part of the state through its own KVM ioctl. Used for every vCPU
 * at power-on (Vm.create, before vCPU 0's boot state is applied on top) and for a vCPU that
 * receives INIT; startupVcpu is the start-up IPI that follows.
 */
import type { KvmCpuidEntry2, KvmDebugregs, KvmRegs, KvmSregs, KvmVcpuEvents, KvmXcr } from '../kvm/index.js';
import { processorSignature, resetState, startupSegment, xsaveImage, type ResetKind } from './cpu-reset.js';

/** The vCPU operations a reset uses: kvm.Vcpu has them all. */
export interface ResettableVcpu {
  getCpuid2(): KvmCpuidEntry2[];
  getSregs(): KvmSregs;
  setSregs(sregs: KvmSregs): void;
  getRegs(): KvmRegs;
  setRegs(regs: KvmRegs): void;
  setDebugregs(debugregs: KvmDebugregs): void;
  setVcpuEvents(events: KvmVcpuEvents): void;
  setXsave(image: Uint8Array): void;
  setXcrs(xcrs: readonly Pick<KvmXcr, 'xcr' | 'value'>[]): void;
  setMsrs(entries: readonly { index: number; data: bigint }[]): void;
}

/** XCR0's number for KVM_SET_XCRS. */
const XCR0 = 0;

/**
 * Puts `vcpu` in the state `kind` of reset gives it. Its CPUID must be set first: RDX becomes
 * CPUID.1:EAX. The pending events go last, since KVM_SET_SREGS queues any interrupt its
 * bitmap names and KVM_SET_REGS drops a pending exception: the events then say exactly
 * "nothing pending".
 */
export function resetVcpu(vcpu: ResettableVcpu, kind: ResetKind): void {
  const state = resetState(kind, { signature: processorSignature(vcpu.getCpuid2()), previous: vcpu.getSregs() });
  if (state.powerOn) {
    vcpu.setXsave(xsaveImage(state.powerOn.fpu));
    vcpu.setXcrs([{ xcr: XCR0, value: state.powerOn.xcr0 }]);
    vcpu.setMsrs(state.powerOn.msrs);
  }
  vcpu.setSregs(state.sregs);
  vcpu.setRegs(state.regs);
  vcpu.setDebugregs(state.debugregs);
  vcpu.setVcpuEvents(state.events);
}

/**
 * A start-up IPI to a vCPU waiting for one (reset at power-on, or by INIT): it runs from
 * vector << 12 in real mode (SDM vol. 3A, 8.4.3), in the state the reset left.
 */
export function startupVcpu(vcpu: Pick<ResettableVcpu, 'getSregs' | 'setSregs' | 'getRegs' | 'setRegs'>, vector: number): void {
  const cs = startupSegment(vector);
  vcpu.setSregs({ ...vcpu.getSregs(), cs });
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0n });
}
