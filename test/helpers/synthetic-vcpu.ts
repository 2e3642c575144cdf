/**
 * A vCPU without KVM for the vCPU core's unit tests: a kvm_run page in an ArrayBuffer, on which
 * a test stages synthetic exits (KvmRun reads them as it reads KVM's), and a record of what the
 * core asked of the vCPU (injected vectors, NMIs, register writes). run() plays a script: each
 * step stages one exit and returns its reason, as KVM_RUN would.
 */
import * as kvm from '../../src/kvm/index.js';
import { offsetOf } from '../../src/kvm/layout.js';
import { kvm_run } from '../../src/kvm/structs.js';
import type { VcpuPort } from '../../src/vmm/vcpu/exit-handler.js';

/** kvm_run and the page after it, where KVM puts I/O data (io.data_offset). */
const PAGE_BYTES = 2 * 4096;
const IO_DATA_OFFSET = 4096;

const regs: kvm.KvmRegs = {
  rax: 0n, rbx: 0n, rcx: 0n, rdx: 0n, rsi: 0n, rdi: 0n, rsp: 0x8000n, rbp: 0n,
  r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
  rip: 0x8010n, rflags: 0x2n,
};
const segment = (selector: number, type: number): kvm.KvmSegment => ({
  base: 0n, limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 0, avl: 0, unusable: 0, padding: 0,
});
const sregs: kvm.KvmSregs = {
  cs: segment(0, 0xb), ds: segment(0, 3), es: segment(0, 3), fs: segment(0, 3), gs: segment(0, 3), ss: segment(0, 3),
  tr: { ...segment(0, 0xb), s: 0 }, ldt: { ...segment(0, 2), s: 0 },
  gdt: { base: 0n, limit: 0xffff, padding: [0, 0, 0] }, idt: { base: 0n, limit: 0xffff, padding: [0, 0, 0] },
  cr0: 0x10n, cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n, efer: 0n, apic_base: 0xfee00900n, interrupt_bitmap: [0n, 0n, 0n, 0n],
};

export type ExitStep = (vcpu: SyntheticVcpu) => number;

export class SyntheticVcpu implements VcpuPort {
  readonly kvmRun = new kvm.KvmRun(new ArrayBuffer(PAGE_BYTES));
  readonly view = this.kvmRun.view;
  readonly injected: number[] = [];
  nmis = 0;
  /** What the core set: the registers and segments of INIT, a SIPI, the reset vector. */
  regs: kvm.KvmRegs = regs;
  sregs: kvm.KvmSregs = sregs;
  readonly msrWrites: { index: number; data: bigint }[] = [];
  tsc = 0n;
  /** The exits run() returns, in order; an empty script is a test error. */
  script: ExitStep[] = [];

  constructor(readonly id = 0) {}

  run(): number {
    if (this.kvmRun.immediateExit) {
      // As KVM does: return at once, without entering the guest (it completes in-flight I/O).
      this.view.setUint32(offsetOf(kvm_run, 'exit_reason'), kvm.KVM_EXIT_INTR, true);
      return kvm.KVM_EXIT_INTR;
    }
    const step = this.script.shift();
    if (!step) throw new Error(`vCPU ${this.id}: KVM_RUN with no synthetic exit left in the script`);
    const reason = step(this);
    this.view.setUint32(offsetOf(kvm_run, 'exit_reason'), reason, true);
    return reason;
  }

  interrupt(vector: number): void {
    this.injected.push(vector);
    this.setByte('ready_for_interrupt_injection', 0);
  }

  nmi(): void {
    this.nmis++;
  }

  readMsr(index: number): bigint {
    if (index !== 0x10) throw new Error(`readMsr(0x${index.toString(16)}) is not part of the synthetic vCPU`);
    return this.tsc;
  }

  setMsrs(entries: readonly { index: number; data: bigint }[]): void {
    this.msrWrites.push(...entries.map(({ index, data }) => ({ index, data })));
  }

  getRegs(): kvm.KvmRegs {
    return this.regs;
  }
  setRegs(value: kvm.KvmRegs): void {
    this.regs = value;
  }
  getSregs(): kvm.KvmSregs {
    return this.sregs;
  }
  setSregs(value: kvm.KvmSregs): void {
    this.sregs = value;
  }
  /** The processor signature CPUID.1:EAX reports (RDX after a reset). */
  signature = 0x000906ea;
  /** What the last reset wrote besides the registers: the pending events, the debug registers. */
  events: kvm.KvmVcpuEvents | undefined;
  debugregs: kvm.KvmDebugregs | undefined;
  getCpuid2(): kvm.KvmCpuidEntry2[] {
    return [{ function: 1, index: 0, flags: 0, eax: this.signature, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0] }];
  }
  setDebugregs(value: kvm.KvmDebugregs): void {
    this.debugregs = value;
  }
  setVcpuEvents(value: kvm.KvmVcpuEvents): void {
    this.events = value;
  }
  setXsave(): void {}
  setXcrs(): void {}
  translate(linearAddress: bigint): { physicalAddress: bigint; valid: boolean } {
    return { physicalAddress: linearAddress, valid: true };
  }

  /** kvm_run.ready_for_interrupt_injection and if_flag, as the last exit left them. */
  readiness(ready: boolean, interruptFlag: boolean): void {
    this.setByte('ready_for_interrupt_injection', ready ? 1 : 0);
    this.setByte('if_flag', interruptFlag ? 1 : 0);
  }

  setByte(path: string, value: number): void {
    this.view.setUint8(offsetOf(kvm_run, path), value);
  }
}

/** A port access: `count` elements of `size` bytes, the data of an OUT taken from `data`. */
export const ioExit =
  (port: number, direction: 'in' | 'out', size: 1 | 2 | 4, data: readonly number[] = [], count = 1): ExitStep =>
  (vcpu) => {
    const view = vcpu.view;
    view.setUint8(offsetOf(kvm_run, 'io.direction'), direction === 'in' ? kvm.KVM_EXIT_IO_IN : kvm.KVM_EXIT_IO_OUT);
    view.setUint8(offsetOf(kvm_run, 'io.size'), size);
    view.setUint16(offsetOf(kvm_run, 'io.port'), port, true);
    view.setUint32(offsetOf(kvm_run, 'io.count'), count, true);
    view.setBigUint64(offsetOf(kvm_run, 'io.data_offset'), BigInt(IO_DATA_OFFSET), true);
    new Uint8Array(view.buffer, IO_DATA_OFFSET, size * count).set(data);
    return kvm.KVM_EXIT_IO;
  };

/** The bytes of the last IN's data, as the core left them for KVM. */
export function ioData(vcpu: SyntheticVcpu, length: number): number[] {
  return [...new Uint8Array(vcpu.view.buffer, IO_DATA_OFFSET, length)];
}

export const mmioExit =
  (address: number, isWrite: boolean, data: readonly number[]): ExitStep =>
  (vcpu) => {
    const view = vcpu.view;
    view.setBigUint64(offsetOf(kvm_run, 'mmio.phys_addr'), BigInt(address), true);
    view.setUint32(offsetOf(kvm_run, 'mmio.len'), data.length, true);
    view.setUint8(offsetOf(kvm_run, 'mmio.is_write'), isWrite ? 1 : 0);
    new Uint8Array(view.buffer, offsetOf(kvm_run, 'mmio.data'), 8).fill(0).set(data.slice(0, 8)); // a longer access is a test of a bad length
    return kvm.KVM_EXIT_MMIO;
  };

/** The bytes an MMIO read left in kvm_run.mmio.data. */
export function mmioData(vcpu: SyntheticVcpu, length: number): number[] {
  return [...new Uint8Array(vcpu.view.buffer, offsetOf(kvm_run, 'mmio.data'), length)];
}

export const msrExit =
  (kind: 'read' | 'write', index: number, data = 0n): ExitStep =>
  (vcpu) => {
    const view = vcpu.view;
    view.setUint32(offsetOf(kvm_run, 'msr.index'), index, true);
    view.setBigUint64(offsetOf(kvm_run, 'msr.data'), data, true);
    view.setUint8(offsetOf(kvm_run, 'msr.error'), 0);
    return kind === 'read' ? kvm.KVM_EXIT_X86_RDMSR : kvm.KVM_EXIT_X86_WRMSR;
  };

/** The answer the core gave an MSR exit: its data, and whether it raised #GP. */
export function msrAnswer(vcpu: SyntheticVcpu): { data: bigint; error: boolean } {
  return { data: vcpu.view.getBigUint64(offsetOf(kvm_run, 'msr.data'), true), error: vcpu.view.getUint8(offsetOf(kvm_run, 'msr.error')) !== 0 };
}

/** HLT, with RFLAGS.IF as the guest had it. */
export const hltExit =
  (interruptFlag: boolean): ExitStep =>
  (vcpu) => {
    vcpu.setByte('if_flag', interruptFlag ? 1 : 0);
    return kvm.KVM_EXIT_HLT;
  };

/** An exit that carries nothing but its reason. */
export const bareExit =
  (reason: number, before?: (vcpu: SyntheticVcpu) => void): ExitStep =>
  (vcpu) => {
    before?.(vcpu);
    return reason;
  };

export const systemEventExit =
  (type: number): ExitStep =>
  (vcpu) => {
    vcpu.view.setUint32(offsetOf(kvm_run, 'system_event.type'), type, true);
    return kvm.KVM_EXIT_SYSTEM_EVENT;
  };
