/**
 * One VM exit, handled: the shape of Firecracker's handle_kvm_exit. It works over an injected
 * vCPU (any object with the few methods of kvm.Vcpu it uses, and a kvm_run page: a real one, or
 * a test's ArrayBuffer holding a synthetic exit), the two buses and the Local APIC, and answers
 * with what the vCPU loop must do next. Everything that ends the VM becomes a VmExit with a
 * message and, for a crash, a register dump; an exit reason it does not know ends the VM with
 * its name: nothing loops silently. The I/O and MMIO paths allocate nothing.
 */
import { existsSync } from 'node:fs';
import type { ResettableVcpu } from '../../boot/reset-vcpu.js';
import type { Bus } from '../../devices/bus.js';
import { IA32_APIC_BASE, IA32_TSC_DEADLINE, type LocalApic } from '../../devices/local-apic.js';
import { hex } from '../../errors.js';
import { monotonicNanos } from '../../host/clock.js';
import * as kvm from '../../kvm/index.js';
import type { GuestMemory } from '../../memory/guest-memory.js';
import { formatRegisterDump, formatStopPoint, instructionPointer, lostRegistersReport, pagingEnabled, type CodeBytes, type LastExit } from '../register-dump.js';
import type { VmExit } from '../vm-exit.js';
import { tscDeadlineToHostNanos } from './tsc-deadline.js';

/** What the exit handler needs of a vCPU: a subset of kvm.Vcpu, so a test can bring a fake. */
export type VcpuPort = Pick<kvm.Vcpu, 'id' | 'kvmRun' | 'run' | 'interrupt' | 'nmi' | 'readMsr' | 'getRegs' | 'getSregs' | 'setRegs' | 'setSregs' | 'translate'> &
  ResettableVcpu;

/** What the vCPU loop does after an exit. */
export const ExitAction = {
  /** Enter the guest again. */
  resume: 0,
  /** A kick or a timer signal ended KVM_RUN (KVM_EXIT_INTR): look at requests and timers. */
  interrupted: 1,
  /** The guest can take an interrupt now, or lowered its task priority: inject before entering. */
  interruptWindow: 2,
  /** The guest executed HLT. */
  halt: 3,
  /** The VM ends: `ExitHandler.ending` says how. */
  end: 4,
} as const;
export type ExitActionValue = (typeof ExitAction)[keyof typeof ExitAction];

export interface ExitHandlerOptions {
  readonly vcpu: VcpuPort;
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
  /** Guest RAM, for the code bytes at RIP in a register dump. */
  readonly memory: Pick<GuestMemory, 'contains' | 'read'>;
  readonly localApic: LocalApic;
  /** The guest's TSC frequency, to turn an IA32_TSC_DEADLINE value into a host time. */
  readonly tscKhz: number;
  /** KVM's AMD side re-initialises a vCPU on a shutdown exit: its registers are then not the guest's. */
  readonly shutdownResetsVcpu: boolean;
  /** The exits handled so far, by reason (the statistics' counters), for a report after a shutdown. */
  readonly exitCounts: Float64Array;
  /** Where the kvm_pvm module would be, whose emulation limits an internal error may be. */
  readonly pvmModule?: string;
  /**
   * Given on a host CPU that opens interrupt windows inside STI's shadow (kvm.dropsStiShadowOnEntry):
   * the counter of HLTs completed for it (see completeHaltInStiShadow).
   */
  readonly stiShadowHalts?: Float64Array | undefined;
}

const INSTRUCTION_BYTES = 15;
const OPCODE_STI = 0xfb;
const OPCODE_HLT = 0xf4;
const IA32_TIME_STAMP_COUNTER = 0x10;
const PVM_MODULE = '/sys/module/kvm_pvm';

const INTERNAL_ERROR_MEANINGS: Readonly<Record<number, string>> = {
  [kvm.KVM_INTERNAL_ERROR_EMULATION]: 'KVM could not emulate an instruction',
  [kvm.KVM_INTERNAL_ERROR_SIMUL_EX]: 'an exception occurred while another was being delivered',
  [kvm.KVM_INTERNAL_ERROR_DELIVERY_EV]:
    'KVM could not deliver an event (an exception or interrupt) to the guest; its IDT, GDT or stack may point outside RAM',
  [kvm.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON]: 'the CPU left the guest for a reason KVM did not expect',
};

export class ExitHandler {
  /** How the VM ends, after handle() answered ExitAction.end. */
  ending: VmExit | undefined;
  /** The last exit was I/O or MMIO: KVM completes the instruction on the next entry. */
  inFlight = false;
  /** The last exit's reason, for a report when the registers are lost (see shutdown()). */
  private lastReason = -1;
  /** The last I/O or MMIO exit: where the guest last touched a device. */
  private readonly lastAccess: LastExit = { reason: -1, address: 0, write: false };
  /** I/O data views for the last data offset KVM used, by access size. */
  private ioViews: Uint8Array[] = [];
  private ioViewsOffset = -1;

  constructor(private readonly options: ExitHandlerOptions) {}

  handle(reason: number): ExitActionValue {
    const action = this.dispatch(reason, this.options.vcpu.kvmRun);
    this.lastReason = reason;
    return action;
  }

  private dispatch(reason: number, kvmRun: kvm.KvmRun): ExitActionValue {
    switch (reason) {
      case kvm.KVM_EXIT_IO:
        this.inFlight = true;
        return this.handleIo(kvmRun) ? ExitAction.resume : this.end(this.failure('KVM reported an I/O exit tsvisor cannot decode (bad size or data offset).'));
      case kvm.KVM_EXIT_MMIO:
        this.inFlight = true;
        return this.handleMmio(kvmRun) ? ExitAction.resume : this.end(this.failure(`KVM reported an MMIO exit of ${kvmRun.mmioLen} bytes, which tsvisor cannot decode.`));
      case kvm.KVM_EXIT_INTR:
        // A kick or a timer: clear immediate_exit before the loop looks at requests and timers
        // (a kick after this point sets it again). KVM completed any in-flight I/O on the way in.
        kvmRun.immediateExit = false;
        this.inFlight = false;
        return ExitAction.interrupted;
      case kvm.KVM_EXIT_IRQ_WINDOW_OPEN:
        if (this.options.stiShadowHalts && kvmRun.ifFlag) this.completeHaltInStiShadow(this.options.stiShadowHalts);
        return ExitAction.interruptWindow;
      case kvm.KVM_EXIT_SET_TPR:
        return ExitAction.interruptWindow;
      case kvm.KVM_EXIT_X86_RDMSR:
        this.readMsr(kvmRun);
        return ExitAction.resume;
      case kvm.KVM_EXIT_X86_WRMSR:
        this.writeMsr(kvmRun);
        return ExitAction.resume;
      case kvm.KVM_EXIT_HLT:
        this.inFlight = false;
        return ExitAction.halt;
      case kvm.KVM_EXIT_SHUTDOWN:
        return this.end(this.shutdown());
      case kvm.KVM_EXIT_FAIL_ENTRY:
        return this.end(this.failEntry(kvmRun));
      case kvm.KVM_EXIT_INTERNAL_ERROR:
        return this.end(this.internalError(kvmRun));
      case kvm.KVM_EXIT_SYSTEM_EVENT:
        return this.end(this.systemEvent(kvmRun));
      case kvm.KVM_EXIT_DEBUG: {
        const debug = kvmRun.debugExit();
        return this.end(
          this.failure(
            `The guest stopped on a debug exception (KVM_EXIT_DEBUG: exception ${debug.exception} at ${hex(debug.pc)}, DR6 ${hex(debug.dr6)}, DR7 ${hex(debug.dr7)}); tsvisor does not debug guests yet.`,
          ),
        );
      }
      default:
        return this.end(this.failure(`The vCPU exited with ${kvm.EXIT_REASON_NAMES[reason] ?? 'an unknown reason'} (exit reason ${reason}), which tsvisor does not handle.`));
    }
  }

  private end(exit: VmExit): ExitActionValue {
    this.ending = exit;
    return ExitAction.end;
  }

  /** A crash of the guest's own making, with the registers where it happened. */
  failure(message: string): Extract<VmExit, { kind: 'guest-failure' }> {
    return { kind: 'guest-failure', message, registers: this.registerDump() };
  }

  private handleIo(kvmRun: kvm.KvmRun): boolean {
    const size = kvmRun.ioSize;
    const count = kvmRun.ioCount;
    const offset = kvmRun.ioDataOffset;
    if ((size !== 1 && size !== 2 && size !== 4) || count < 1 || offset + size * count > kvmRun.bytes.length) return false;
    const port = kvmRun.ioPort;
    const bus = this.options.ioBus;
    const isIn = kvmRun.ioDirection === kvm.KVM_EXIT_IO_IN;
    this.lastAccess.reason = kvm.KVM_EXIT_IO;
    this.lastAccess.address = port;
    this.lastAccess.write = !isIn;
    if (count === 1) {
      const data = this.ioView(kvmRun, offset, size);
      if (isIn) bus.read(port, data);
      else bus.write(port, data);
      return true;
    }
    // String I/O (rep ins/outs): one exit carries `count` elements, each an access to the same port.
    for (let i = 0; i < count; i++) {
      const data = kvmRun.bytes.subarray(offset + i * size, offset + (i + 1) * size);
      if (isIn) bus.read(port, data);
      else bus.write(port, data);
    }
    return true;
  }

  private ioView(kvmRun: kvm.KvmRun, offset: number, size: number): Uint8Array {
    if (offset !== this.ioViewsOffset) {
      this.ioViewsOffset = offset;
      this.ioViews = [];
      for (const length of [1, 2, 4]) this.ioViews[length] = kvmRun.bytes.subarray(offset, offset + length);
    }
    return this.ioViews[size] as Uint8Array;
  }

  private handleMmio(kvmRun: kvm.KvmRun): boolean {
    const length = kvmRun.mmioLen;
    if (length < 1 || length > 8) return false;
    const data = kvmRun.mmioData(length);
    const address = kvmRun.mmioPhysAddr;
    const write = kvmRun.mmioIsWrite;
    this.lastAccess.reason = kvm.KVM_EXIT_MMIO;
    this.lastAccess.address = address;
    this.lastAccess.write = write;
    if (write) this.options.mmioBus.write(address, data);
    else this.options.mmioBus.read(address, data);
    return true;
  }

  private readMsr(kvmRun: kvm.KvmRun): void {
    const apic = this.options.localApic;
    switch (kvmRun.msrIndex) {
      case IA32_APIC_BASE:
        kvmRun.msrData = apic.readApicBase();
        return;
      case IA32_TSC_DEADLINE:
        kvmRun.msrData = apic.readTscDeadline();
        return;
      default:
        kvmRun.msrError = true; // #GP, as KVM would for an MSR it does not know
    }
  }

  private writeMsr(kvmRun: kvm.KvmRun): void {
    const { vcpu, localApic: apic } = this.options;
    const value = kvmRun.msrData;
    switch (kvmRun.msrIndex) {
      case IA32_APIC_BASE:
        if (!apic.writeApicBase(value)) {
          kvmRun.msrError = true;
          return;
        }
        // KVM keeps CPUID.1:EDX[9] (APIC) in step with its own copy of the MSR: a host write bypasses the filter.
        vcpu.setMsrs([{ index: IA32_APIC_BASE, data: apic.readApicBase() }]);
        return;
      case IA32_TSC_DEADLINE: {
        // The TSC is read before the clock: a delay between the two makes the timer late, never early.
        const tscNow = value === 0n ? 0n : vcpu.readMsr(IA32_TIME_STAMP_COUNTER);
        apic.writeTscDeadline(value, value === 0n ? Infinity : tscDeadlineToHostNanos(value, tscNow, monotonicNanos(), this.options.tscKhz));
        return;
      }
      default:
        kvmRun.msrError = true;
    }
  }

  /**
   * A triple fault. On KVM's AMD side the vCPU already holds the INIT state when KVM returns, so
   * what can be known is the last exit tsvisor handled, and the report says so instead of
   * showing the reset state as the guest's.
   */
  private shutdown(): VmExit {
    const message =
      'The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down.';
    if (!this.options.shutdownResetsVcpu) return { ...this.failure(`${message} Look at the IDT, the stack and the code at RIP below.`), tripleFault: true };
    const last = this.lastReason === this.lastAccess.reason ? this.lastAccess : { reason: this.lastReason, address: 0, write: false };
    return { kind: 'guest-failure', message: `${message} Look at the guest's IDT and stack.`, registers: lostRegistersReport(this.options.vcpu.id, last, this.exitCount()), tripleFault: true };
  }

  /** Where the vCPU was, `state` saying what it was doing, when the VM was stopped from outside. */
  stopPoint(state: string): string {
    const { vcpu } = this.options;
    let regs: kvm.KvmRegs | undefined;
    let sregs: kvm.KvmSregs | undefined;
    try {
      regs = vcpu.getRegs();
      sregs = vcpu.getSregs();
    } catch {
      // Reported as unreadable: the line is still worth having.
    }
    return formatStopPoint(vcpu.id, state, regs, sregs, this.lastAccess, this.exitCount());
  }

  private exitCount(): number {
    return this.options.exitCounts.reduce((sum, count) => sum + count, 0);
  }

  private failEntry(kvmRun: kvm.KvmRun): VmExit {
    const { hardwareEntryFailureReason, cpu } = kvmRun.failEntry();
    return this.failure(
      `The CPU refused to enter the guest (KVM_EXIT_FAIL_ENTRY, hardware entry failure reason ${hex(hardwareEntryFailureReason)} on host CPU ${cpu}): the vCPU state is not valid for VM entry.`,
    );
  }

  private internalError(kvmRun: kvm.KvmRun): VmExit {
    const { suberror, data, instructionBytes } = kvmRun.internalError();
    const meaning = INTERNAL_ERROR_MEANINGS[suberror] ?? 'an internal KVM error';
    const details = data.length ? ` Data: ${data.map((word) => hex(word)).join(', ')}.` : '';
    const bytes = instructionBytes?.length
      ? ` The instruction bytes: ${Array.from(instructionBytes, (b) => b.toString(16).padStart(2, '0')).join(' ')}.`
      : '';
    const hostLimit =
      suberror === kvm.KVM_INTERNAL_ERROR_EMULATION && existsSync(this.options.pvmModule ?? PVM_MODULE)
        ? ' This host\'s KVM is kvm_pvm (nested, without VMX), which cannot emulate some instructions on write-tracked pages (lock cmpxchg16b, xrstor) or an int3 in guest kernel mode: a limit of the host, not of the guest or tsvisor.'
        : '';
    return this.failure(`${meaning} (KVM_EXIT_INTERNAL_ERROR, suberror ${suberror}).${details}${bytes}${hostLimit}`);
  }

  private systemEvent(kvmRun: kvm.KvmRun): VmExit {
    const { type } = kvmRun.systemEvent();
    switch (type) {
      case kvm.KVM_SYSTEM_EVENT_SHUTDOWN:
        return { kind: 'power-off' };
      case kvm.KVM_SYSTEM_EVENT_RESET:
        return this.failure('The guest asked for a reset (KVM_SYSTEM_EVENT_RESET); tsvisor reboots a guest only on a triple fault (under tsvisor-qemu without -no-reboot), so the VM stops.');
      case kvm.KVM_SYSTEM_EVENT_CRASH:
        return this.failure('The guest reported a crash (KVM_SYSTEM_EVENT_CRASH).');
      default:
        return this.failure(`The guest raised system event ${type} (KVM_EXIT_SYSTEM_EVENT), which tsvisor does not handle.`);
    }
  }

  private registerDump(): string | undefined {
    const { vcpu } = this.options;
    try {
      const regs = vcpu.getRegs();
      const sregs = vcpu.getSregs();
      return formatRegisterDump(vcpu.id, regs, sregs, this.codeAtRip(instructionPointer(regs, sregs), pagingEnabled(sregs)));
    } catch (error) {
      return `(the registers could not be read: ${(error as Error).message})`;
    }
  }

  /**
   * An interrupt window that opened with RIP on a HLT right after an STI opened inside STI's
   * shadow, where a CPU takes no interrupt (SDM vol. 2B, "STI"): only a host CPU with the flaw
   * kvm.dropsStiShadowOnEntry describes does that. On hardware the HLT runs and the interrupt
   * ends it, returning past it; RIP moves past the HLT so the interrupt about to be injected
   * does the same, instead of returning to a HLT nothing may end.
   */
  private completeHaltInStiShadow(counter: Float64Array): void {
    const vcpu = this.options.vcpu;
    const regs = vcpu.getRegs();
    const sregs = vcpu.getSregs();
    const rip = instructionPointer(regs, sregs);
    const paging = pagingEnabled(sregs);
    if (this.guestByte(rip, paging) !== OPCODE_HLT || this.guestByte(rip - 1n, paging) !== OPCODE_STI) return;
    vcpu.setRegs({ ...regs, rip: regs.rip + 1n });
    counter[0] = (counter[0] as number) + 1;
  }

  /** The guest physical address of a linear one, or undefined when the guest's page tables do not map it. */
  private physicalAddress(linear: bigint, paging: boolean): number | undefined {
    if (!paging) return Number(linear);
    const translation = this.options.vcpu.translate(linear);
    return translation.valid ? Number(translation.physicalAddress) : undefined;
  }

  /** The guest's byte at a linear address, or -1 when it is not mapped or not in RAM. */
  private guestByte(linear: bigint, paging: boolean): number {
    const gpa = this.physicalAddress(linear, paging);
    return gpa !== undefined && this.options.memory.contains(gpa, 1) ? (this.options.memory.read(gpa, 1)[0] as number) : -1;
  }

  private codeAtRip(linear: bigint, paging: boolean): CodeBytes {
    const gpa = this.physicalAddress(linear, paging);
    if (gpa === undefined) return { gpa: undefined, bytes: `(RIP ${hex(linear)} is not mapped by the guest's page tables)` };
    const memory = this.options.memory;
    for (let length = INSTRUCTION_BYTES; length > 0; length--) {
      if (memory.contains(gpa, length)) return { gpa, bytes: memory.read(gpa, length) };
    }
    return { gpa, bytes: '(not in guest RAM)' };
  }
}
