/** A KVM vCPU: its file descriptor, its kvm_run page, and its ioctls. */
import { hex } from '../errors.js';
import { Errno, describeErrno } from '../host/errno.js';
import * as libc from '../host/libc.js';
import { KVM_EXIT_INTR, KVM_MAX_XCRS } from './constants.js';
import { KvmError, KvmIoctlError } from './errors.js';
import { checked, ioctlRead, ioctlReadCpuid2, ioctlWrite } from './ioctl.js';
import {
  KVM_GET_CPUID2,
  KVM_GET_DEBUGREGS,
  KVM_GET_MP_STATE,
  KVM_GET_MSRS,
  KVM_GET_REGS,
  KVM_GET_TSC_KHZ,
  KVM_GET_SREGS,
  KVM_GET_VCPU_EVENTS,
  KVM_GET_XCRS,
  KVM_GET_XSAVE,
  KVM_INTERRUPT,
  KVM_NMI,
  KVM_RUN,
  KVM_SET_CPUID2,
  KVM_SET_DEBUGREGS,
  KVM_SET_MP_STATE,
  KVM_SET_MSRS,
  KVM_SET_REGS,
  KVM_SET_SREGS,
  KVM_SET_VCPU_EVENTS,
  KVM_SET_XCRS,
  KVM_SET_XSAVE,
  KVM_TRANSLATE,
} from './ioctls.js';
import { KvmRun } from './kvm-run.js';
import { decode, encode } from './layout.js';
import {
  kvm_cpuid2,
  kvm_cpuid_entry2,
  kvm_debugregs,
  kvm_interrupt,
  kvm_mp_state,
  kvm_msr_entry,
  kvm_msrs,
  kvm_regs,
  kvm_sregs,
  kvm_translation,
  kvm_vcpu_events,
  kvm_xcrs,
  kvm_xsave,
  type KvmCpuidEntry2,
  type KvmDebugregs,
  type KvmMsrEntry,
  type KvmRegs,
  type KvmSregs,
  type KvmVcpuEvents,
  type KvmXcr,
} from './structs.js';

export class Vcpu {
  private closed = false;
  /** False for a vCPU another thread owns (a worker's view): close() then leaves the fd and the mapping alone. */
  private owned = true;
  /** How error messages name this vCPU. */
  private readonly context: string;
  private readonly interruptBuffer = new Uint8Array(kvm_interrupt.size);
  private readonly interruptView = new DataView(this.interruptBuffer.buffer);
  private readonly msrBuffer = new Uint8Array(kvm_msrs.size + kvm_msr_entry.size);
  private readonly msrView = new DataView(this.msrBuffer.buffer);

  private constructor(
    readonly id: number,
    readonly fd: number,
    /** The kvm_run page (mmap of the vCPU fd). */
    readonly kvmRun: KvmRun,
    private readonly runAddress: bigint,
    private readonly runSize: number,
  ) {
    this.context = `vCPU ${id}`;
  }

  /** Maps the kvm_run page of a new vCPU fd. */
  static map(id: number, fd: number, mmapSize: number): Vcpu {
    const address = libc.mmap(null, mmapSize, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_SHARED, fd, 0);
    if (address === libc.MAP_FAILED) {
      throw new KvmError(`Cannot map the kvm_run page of vCPU ${id} (mmap of ${mmapSize} bytes failed: ${describeErrno(libc.errno())}).`);
    }
    return new Vcpu(id, fd, new KvmRun(libc.view(address, mmapSize)), address, mmapSize);
  }

  /**
   * The same vCPU seen from another thread: its fd (fds are process-wide) and its kvm_run
   * page, mapped by the owner at `runAddress`, through this thread's own view.
   */
  static attach(id: number, fd: number, runAddress: bigint, runSize: number): Vcpu {
    const vcpu = new Vcpu(id, fd, new KvmRun(libc.view(runAddress, runSize)), runAddress, runSize);
    vcpu.owned = false;
    return vcpu;
  }

  /** Where the kvm_run page is mapped, for another thread to attach to. */
  get runMapping(): { readonly address: bigint; readonly size: number } {
    return { address: this.runAddress, size: this.runSize };
  }

  /**
   * KVM_RUN: runs the guest until it exits, and returns kvm_run.exit_reason. A kick (a
   * signal, or immediate_exit) makes the ioctl fail with EINTR: that returns KVM_EXIT_INTR.
   */
  run(): number {
    if (libc.ioctlValue(this.fd, KVM_RUN, 0) < 0) {
      const errno = libc.errno();
      if (errno === Errno.EINTR || errno === Errno.EAGAIN) return KVM_EXIT_INTR;
      throw KvmIoctlError.fromRequest(KVM_RUN, errno, this.context);
    }
    return this.kvmRun.exitReason;
  }

  /** KVM_GET_TSC_KHZ: the guest TSC frequency. */
  getTscKhz(): number {
    return checked(libc.ioctlValue(this.fd, KVM_GET_TSC_KHZ, 0), KVM_GET_TSC_KHZ, this.context);
  }

  getRegs(): KvmRegs {
    return ioctlRead(this.fd, KVM_GET_REGS, kvm_regs, this.context);
  }

  setRegs(regs: KvmRegs): void {
    ioctlWrite(this.fd, KVM_SET_REGS, kvm_regs, regs, this.context);
  }

  getSregs(): KvmSregs {
    return ioctlRead(this.fd, KVM_GET_SREGS, kvm_sregs, this.context);
  }

  setSregs(sregs: KvmSregs): void {
    ioctlWrite(this.fd, KVM_SET_SREGS, kvm_sregs, sregs, this.context);
  }

  setCpuid2(entries: readonly KvmCpuidEntry2[]): void {
    const buffer = new Uint8Array(kvm_cpuid2.size + entries.length * kvm_cpuid_entry2.size);
    const view = new DataView(buffer.buffer);
    view.setUint32(kvm_cpuid2.offsets.nent, entries.length, true);
    entries.forEach((entry, i) => encode(kvm_cpuid_entry2, entry, view, kvm_cpuid2.offsets.entries + i * kvm_cpuid_entry2.size));
    checked(libc.ioctlBuffer(this.fd, KVM_SET_CPUID2, buffer), KVM_SET_CPUID2, this.context);
  }

  /** KVM_GET_CPUID2: the CPUID entries KVM_SET_CPUID2 gave this vCPU. */
  getCpuid2(): KvmCpuidEntry2[] {
    return ioctlReadCpuid2(this.fd, KVM_GET_CPUID2, this.context);
  }

  /** KVM_GET_MSRS for the given MSR indices; returns index -> value. */
  getMsrs(indices: readonly number[]): Map<number, bigint> {
    const buffer = new Uint8Array(kvm_msrs.size + indices.length * kvm_msr_entry.size);
    const view = new DataView(buffer.buffer);
    view.setUint32(kvm_msrs.offsets.nmsrs, indices.length, true);
    indices.forEach((index, i) =>
      encode(kvm_msr_entry, { index, reserved: 0, data: 0n }, view, kvm_msrs.offsets.entries + i * kvm_msr_entry.size),
    );
    const read = checked(libc.ioctlBuffer(this.fd, KVM_GET_MSRS, buffer), KVM_GET_MSRS, this.context);
    const values = new Map<number, bigint>();
    for (let i = 0; i < read; i++) {
      const entry = decode(kvm_msr_entry, view, kvm_msrs.offsets.entries + i * kvm_msr_entry.size);
      values.set(entry.index, entry.data);
    }
    return values;
  }

  setMsrs(entries: readonly Pick<KvmMsrEntry, 'index' | 'data'>[]): void {
    const buffer = new Uint8Array(kvm_msrs.size + entries.length * kvm_msr_entry.size);
    const view = new DataView(buffer.buffer);
    view.setUint32(kvm_msrs.offsets.nmsrs, entries.length, true);
    entries.forEach((entry, i) =>
      encode(kvm_msr_entry, { ...entry, reserved: 0 }, view, kvm_msrs.offsets.entries + i * kvm_msr_entry.size),
    );
    const written = checked(libc.ioctlBuffer(this.fd, KVM_SET_MSRS, buffer), KVM_SET_MSRS, this.context);
    if (written !== entries.length) {
      const rejected = entries[written];
      throw new KvmError(`KVM_SET_MSRS on vCPU ${this.id} stopped at MSR ${hex(rejected?.index ?? 0)}: KVM refused its value.`);
    }
  }

  getMpState(): number {
    return ioctlRead(this.fd, KVM_GET_MP_STATE, kvm_mp_state, this.context).mp_state;
  }

  setMpState(state: number): void {
    ioctlWrite(this.fd, KVM_SET_MP_STATE, kvm_mp_state, { mp_state: state }, this.context);
  }

  /**
   * KVM_INTERRUPT: queues an external interrupt (only without an in-kernel irqchip). On the
   * interrupt-injection path, so it reuses one buffer.
   */
  interrupt(vector: number): void {
    this.interruptView.setUint32(kvm_interrupt.offsets.irq, vector, true);
    checked(libc.ioctlBuffer(this.fd, KVM_INTERRUPT, this.interruptBuffer), KVM_INTERRUPT, `${this.context}, vector ${vector}`);
  }

  /** KVM_NMI: queues a non-maskable interrupt (only without an in-kernel irqchip). */
  nmi(): void {
    checked(libc.ioctlValue(this.fd, KVM_NMI, 0), KVM_NMI, this.context);
  }

  /** One MSR through KVM_GET_MSRS, with a buffer made once (the guest's TSC, on each TSC-deadline write). */
  readMsr(index: number): bigint {
    const view = this.msrView;
    view.setUint32(kvm_msrs.offsets.nmsrs, 1, true);
    view.setUint32(kvm_msrs.offsets.entries + kvm_msr_entry.offsets.index, index, true);
    const read = checked(libc.ioctlBuffer(this.fd, KVM_GET_MSRS, this.msrBuffer), KVM_GET_MSRS, this.context);
    if (read !== 1) throw new KvmError(`KVM_GET_MSRS on vCPU ${this.id} could not read MSR ${hex(index)}.`);
    return view.getBigUint64(kvm_msrs.offsets.entries + kvm_msr_entry.offsets.data, true);
  }

  getVcpuEvents(): KvmVcpuEvents {
    return ioctlRead(this.fd, KVM_GET_VCPU_EVENTS, kvm_vcpu_events, this.context);
  }

  /** KVM_SET_VCPU_EVENTS: `flags` says which of the optional members (pending NMI, interrupt shadow, ...) apply. */
  setVcpuEvents(events: KvmVcpuEvents): void {
    ioctlWrite(this.fd, KVM_SET_VCPU_EVENTS, kvm_vcpu_events, events, this.context);
  }

  getDebugregs(): KvmDebugregs {
    return ioctlRead(this.fd, KVM_GET_DEBUGREGS, kvm_debugregs, this.context);
  }

  setDebugregs(debugregs: KvmDebugregs): void {
    ioctlWrite(this.fd, KVM_SET_DEBUGREGS, kvm_debugregs, debugregs, this.context);
  }

  /** KVM_GET_XSAVE: the guest's XSAVE image (struct kvm_xsave's region, 4096 bytes). */
  getXsave(): Uint8Array {
    const region = new Uint8Array(kvm_xsave.size);
    checked(libc.ioctlBuffer(this.fd, KVM_GET_XSAVE, region), KVM_GET_XSAVE, this.context);
    return region;
  }

  /** KVM_SET_XSAVE: loads an XSAVE image (standard format; the components XSTATE_BV leaves out take their initial state). */
  setXsave(region: Uint8Array): void {
    if (region.length !== kvm_xsave.size) throw new RangeError(`an XSAVE image for KVM_SET_XSAVE is ${kvm_xsave.size} bytes, not ${region.length}`);
    checked(libc.ioctlBuffer(this.fd, KVM_SET_XSAVE, region), KVM_SET_XSAVE, this.context);
  }

  /** KVM_GET_XCRS: the extended control registers KVM reports (XCR0). */
  getXcrs(): KvmXcr[] {
    const { nr_xcrs, xcrs } = ioctlRead(this.fd, KVM_GET_XCRS, kvm_xcrs, this.context);
    return xcrs.slice(0, nr_xcrs);
  }

  setXcrs(xcrs: readonly Pick<KvmXcr, 'xcr' | 'value'>[]): void {
    if (xcrs.length > KVM_MAX_XCRS) throw new RangeError(`KVM_SET_XCRS takes at most ${KVM_MAX_XCRS} registers`);
    const empty: KvmXcr = { xcr: 0, reserved: 0, value: 0n };
    const entries = Array.from({ length: KVM_MAX_XCRS }, (_, i) => (i < xcrs.length ? { ...empty, ...xcrs[i] } : empty));
    ioctlWrite(this.fd, KVM_SET_XCRS, kvm_xcrs, { nr_xcrs: xcrs.length, flags: 0, xcrs: entries, padding: new Array<bigint>(16).fill(0n) }, this.context);
  }

  /** KVM_TRANSLATE: a linear address through the guest's current page tables. */
  translate(linearAddress: bigint): { physicalAddress: bigint; valid: boolean } {
    const buffer = new Uint8Array(kvm_translation.size);
    const view = new DataView(buffer.buffer);
    view.setBigUint64(kvm_translation.offsets.linear_address, linearAddress, true);
    checked(libc.ioctlBuffer(this.fd, KVM_TRANSLATE, buffer), KVM_TRANSLATE, this.context);
    const result = decode(kvm_translation, view);
    return { physicalAddress: result.physical_address, valid: result.valid !== 0 };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (!this.owned) return;
    libc.munmap(this.runAddress, this.runSize);
    libc.close(this.fd);
  }
}
