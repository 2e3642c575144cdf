/**
 * The exit loop of one vCPU, on its worker thread: KVM_RUN, then handle the exit, until the
 * VM ends.
 *
 * I/O and MMIO exits go to the buses; everything that ends the VM becomes a VmExit with a
 * message and, for a crash, a register dump. An exit reason this loop does not know ends
 * the VM with its name: nothing loops silently. Between exits it obeys the VM's lifecycle
 * (vm-control.ts): it pauses at an exit boundary with any in-flight I/O completed, sleeps on
 * HLT until woken or until its next timer deadline, and leaves when the VM stops.
 *
 * Interrupts (../ARCHITECTURE.md, "Interrupts"): before each KVM_RUN the vCPU looks at its
 * Local APIC. It injects the highest deliverable vector with KVM_INTERRUPT when the last exit
 * said the guest can take one (ready_for_interrupt_injection and IF), and otherwise asks KVM
 * for an interrupt-window exit. NMI and INIT requests are acted on here too.
 *
 * Timers: the vCPU's host timer (the shim's) is armed for the earliest deadline of its LAPIC
 * timer and, on vCPU 0, of the HPET. At the deadline the kick signal sets immediate_exit and
 * interrupts KVM_RUN, so the loop sees KVM_EXIT_INTR, clears immediate_exit and services the
 * timers. immediate_exit is cleared only there: a signal that lands while another exit is
 * being handled leaves it set, and the next KVM_RUN returns at once instead of losing it.
 *
 * The hot path (an I/O or MMIO exit with no interrupt pending) allocates nothing.
 */
import { existsSync } from 'node:fs';
import { realModeRegs, startupSregs } from '../boot/real-mode.js';
import type { Bus } from '../devices/bus.js';
import type { Hpet } from '../devices/hpet.js';
import { ATTENTION_INIT, ATTENTION_NMI } from '../devices/local-apic-state.js';
import { IA32_APIC_BASE, IA32_TSC_DEADLINE, type LocalApic } from '../devices/local-apic.js';
import { hex } from '../errors.js';
import { monotonicNanos } from '../host/clock.js';
import { nativeShim, type NativeShim } from '../host/shim.js';
import * as kvm from '../kvm/index.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { formatRegisterDump, instructionPointer, lostRegistersReport, pagingEnabled, type CodeBytes, type LastExit } from './register-dump.js';
import { VcpuState, VmState, type VmControl } from './vm-control.js';
import { EXIT_REASON_SLOTS } from './vm-stats.js';
import type { VmExit } from './vm-exit.js';

/** What the vCPU's own devices decided: a device that ends the VM sets `exit`. */
export interface RunControl {
  exit: VmExit | undefined;
}

export interface VcpuRunnerOptions {
  readonly vcpu: kvm.Vcpu;
  readonly control: VmControl;
  readonly ioBus: Bus;
  readonly mmioBus: Bus;
  readonly memory: GuestMemory;
  readonly localApic: LocalApic;
  /** The HPET, on the vCPU that services its comparators (vCPU 0). */
  readonly hpet: Hpet | undefined;
  /** The guest's TSC frequency, to turn an IA32_TSC_DEADLINE value into a time. */
  readonly tscKhz: number;
  /** KVM's AMD side re-initialises a vCPU on a shutdown exit: its registers are then not the guest's. */
  readonly shutdownResetsVcpu: boolean;
  readonly local: RunControl;
  readonly exitCounts: Float64Array;
  readonly exitNanos: Float64Array;
  readonly timed: boolean;
}

const INSTRUCTION_BYTES = 15;
const IA32_TIME_STAMP_COUNTER = 0x10;
/** How often a vCPU looks at CR8 while the task priority holds an interrupt back. */
const TASK_PRIORITY_POLL_NS = 200_000;
const PVM_MODULE = '/sys/module/kvm_pvm';

const INTERNAL_ERROR_MEANINGS: Readonly<Record<number, string>> = {
  [kvm.KVM_INTERNAL_ERROR_EMULATION]: 'KVM could not emulate an instruction',
  [kvm.KVM_INTERNAL_ERROR_SIMUL_EX]: 'an exception occurred while another was being delivered',
  [kvm.KVM_INTERNAL_ERROR_DELIVERY_EV]:
    'KVM could not deliver an event (an exception or interrupt) to the guest; its IDT, GDT or stack may point outside RAM',
  [kvm.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON]: 'the CPU left the guest for a reason KVM did not expect',
};

export class VcpuRunner {
  private readonly vcpu: kvm.Vcpu;
  private readonly control: VmControl;
  private readonly id: number;
  /** I/O data views for the last data offset KVM used, by access size. */
  private ioViews: Uint8Array[] = [];
  private ioViewsOffset = -1;
  /** The last exit was I/O or MMIO: KVM completes the instruction on the next entry. */
  private inFlight = false;
  private readonly apic: LocalApic;
  private readonly shim: NativeShim;
  /** IRR may hold a vector to inject: look before each entry until it is empty. */
  private interruptsPending = false;
  /** When to look at CR8 again for an interrupt the task priority holds back (ns), or Infinity. */
  private taskPriorityPoll = Infinity;
  /** The host timer's deadline (monotonic ns), or Infinity when disarmed. */
  private armedDeadline = Infinity;
  /** The last exit handled, for a report when the registers are lost (see shutdown()). */
  private readonly lastExit: LastExit = { reason: -1, address: 0, write: false };

  constructor(private readonly options: VcpuRunnerOptions) {
    this.vcpu = options.vcpu;
    this.control = options.control;
    this.id = options.vcpu.id;
    this.apic = options.localApic;
    this.shim = nativeShim();
  }

  /**
   * Runs the vCPU until the VM ends. Returns how the guest ended it, or undefined when the
   * VM was stopped from outside (or by another vCPU's exit).
   */
  run(): VmExit | undefined {
    try {
      return this.loop();
    } finally {
      this.shim.releaseThread();
    }
  }

  private loop(): VmExit | undefined {
    this.shim.setImmediateExitByte(this.vcpu.runMapping.address + BigInt(kvm.KVM_RUN_IMMEDIATE_EXIT_OFFSET));
    if (this.id === 0) {
      // The bootstrap processor starts with the VM (and its state says so even when the VM already runs).
      this.control.markStarted(0);
      if (!this.obeyLifecycle()) return undefined;
    } else if (!this.waitForStart()) {
      return undefined;
    }
    const { control, local, exitCounts, exitNanos, timed } = this.options;
    const vcpu = this.vcpu;
    const kvmRun = vcpu.kvmRun;
    const apic = this.apic;
    for (;;) {
      if (control.vmState !== VmState.running && !this.obeyLifecycle()) return undefined;
      if ((apic.hasAttention || this.interruptsPending) && !this.prepareInterrupts(kvmRun)) {
        if (!this.restartAfterInit()) return undefined;
        continue;
      }
      const deadline = this.nextDeadline();
      if (deadline !== this.armedDeadline) this.armTimer(deadline);
      const reason = vcpu.run();
      const start = timed ? performance.now() : 0;
      const exit = this.handleExit(reason, kvmRun);
      this.lastExit.reason = reason;
      if (reason < EXIT_REASON_SLOTS) {
        exitCounts[reason] = (exitCounts[reason] as number) + 1;
        if (timed) exitNanos[reason] = (exitNanos[reason] as number) + (performance.now() - start) * 1e6;
      }
      if (exit) return exit;
      if (local.exit) return local.exit;
    }
  }

  private handleExit(reason: number, kvmRun: kvm.KvmRun): VmExit | undefined {
    switch (reason) {
      case kvm.KVM_EXIT_IO:
        this.inFlight = true;
        return this.handleIo(kvmRun) ? undefined : this.failure('KVM reported an I/O exit tsvisor cannot decode (bad size or data offset).');
      case kvm.KVM_EXIT_MMIO:
        this.inFlight = true;
        return this.handleMmio(kvmRun) ? undefined : this.failure(`KVM reported an MMIO exit of ${kvmRun.mmioLen} bytes, which tsvisor cannot decode.`);
      case kvm.KVM_EXIT_INTR:
        // A kick or a timer: clear immediate_exit before looking at the requests and the
        // timers (a kick after this point sets it again). KVM completed any in-flight I/O on the way in.
        kvmRun.immediateExit = false;
        this.inFlight = false;
        this.serviceTimers();
        this.control.stamp(this.id, 'kick-handled');
        return undefined;
      case kvm.KVM_EXIT_IRQ_WINDOW_OPEN:
      case kvm.KVM_EXIT_SET_TPR:
        // The guest can take an interrupt now, or lowered CR8: the loop injects before the next entry.
        this.interruptsPending = true;
        return undefined;
      case kvm.KVM_EXIT_X86_RDMSR:
        this.readMsr(kvmRun);
        return undefined;
      case kvm.KVM_EXIT_X86_WRMSR:
        this.writeMsr(kvmRun);
        return undefined;
      case kvm.KVM_EXIT_HLT:
        this.inFlight = false;
        return this.halt(kvmRun);
      case kvm.KVM_EXIT_SHUTDOWN:
        return this.shutdown();
      case kvm.KVM_EXIT_FAIL_ENTRY:
        return this.failEntry(kvmRun);
      case kvm.KVM_EXIT_INTERNAL_ERROR:
        return this.internalError(kvmRun);
      case kvm.KVM_EXIT_SYSTEM_EVENT:
        return this.systemEvent(kvmRun);
      case kvm.KVM_EXIT_DEBUG: {
        const debug = kvmRun.debugExit();
        return this.failure(
          `The guest stopped on a debug exception (KVM_EXIT_DEBUG: exception ${debug.exception} at ${hex(debug.pc)}, DR6 ${hex(debug.dr6)}, DR7 ${hex(debug.dr7)}); tsvisor does not debug guests yet.`,
        );
      }
      default:
        return this.failure(`The vCPU exited with ${kvm.EXIT_REASON_NAMES[reason] ?? 'an unknown reason'} (exit reason ${reason}), which tsvisor does not handle.`);
    }
  }

  /**
   * The VM is not simply running: wait while it is created or paused, leave when it stops.
   * Returns false when the vCPU must leave its loop.
   */
  private obeyLifecycle(): boolean {
    const { control, id } = this;
    for (;;) {
      const seen = control.wakeSequence(id);
      const state = control.vmState;
      if (state === VmState.running) {
        control.setVcpuState(id, VcpuState.running);
        return true;
      }
      if (state === VmState.stopping) return false;
      if (state === VmState.paused) {
        // Pause at an exit boundary with the last I/O instruction completed, so the registers
        // are consistent: re-enter with immediate_exit set (the KVM API's advice).
        if (this.inFlight) {
          this.vcpu.kvmRun.immediateExit = true;
          this.vcpu.run();
          this.vcpu.kvmRun.immediateExit = false;
          this.inFlight = false;
        }
        control.setVcpuState(id, VcpuState.paused);
      }
      control.waitForWake(id, seen);
    }
  }

  /** An application processor waits, parked, for its start request; false when the VM stops first. */
  private waitForStart(): boolean {
    const { control, id } = this;
    control.setVcpuState(id, VcpuState.parked);
    for (;;) {
      const seen = control.wakeSequence(id);
      if (control.vmState === VmState.stopping) return false;
      const vector = control.takeStartRequest(id);
      if (vector !== undefined) {
        // What reached the APIC while it waited (the INIT before the SIPI) is spent: a processor
        // waiting for a SIPI ignores everything else (SDM vol. 3A, 8.4.2).
        this.apic.takeAttention();
        this.vcpu.setSregs(startupSregs(this.vcpu.getSregs(), vector));
        this.vcpu.setRegs(realModeRegs(0));
        control.setVcpuState(id, VcpuState.running);
        return true;
      }
      control.waitForWake(id, seen);
    }
  }

  /**
   * HLT: sleep on the wake word until something wakes the vCPU (an interrupt, a timer
   * deadline, or the VM's lifecycle), costing the host nothing meanwhile. Timers are serviced
   * while it sleeps (vCPU 0's include the HPET's, which other vCPUs may wait for).
   *
   * With interrupts disabled only NMI and INIT resume it (SDM vol. 3A, 8.4 and HLT in vol. 2),
   * so it sleeps on through anything else. When no other vCPU is running or able to wake (one
   * halted with interrupts enabled), nothing ever can: that ends the VM rather than hang it.
   */
  private halt(kvmRun: kvm.KvmRun): VmExit | undefined {
    const { control, id, apic } = this;
    const interruptible = kvmRun.ifFlag;
    if (!interruptible && !this.anotherVcpuCanContinue()) {
      return this.failure(
        `vCPU ${id} halted with interrupts disabled (HLT after CLI), and no other vCPU is running or can be woken to wake it: the VM can never continue. End the guest through the debug-exit port (a write to I/O port 0xf4) or the power-off register (0x2000 to port 0x604) to choose how tsvisor exits.`,
      );
    }
    const haltedState = interruptible ? VcpuState.halted : VcpuState.haltedUninterruptible;
    for (;;) {
      const seen = control.wakeSequence(id);
      if (control.vmState !== VmState.running) return undefined;
      if (interruptible ? apic.hasAttention || apic.deliverableVector() >= 0 : apic.hasNonMaskableRequest) break;
      const deadline = this.nextDeadline();
      const now = monotonicNanos();
      if (deadline > now) {
        control.setVcpuState(id, haltedState);
        control.waitForWake(id, seen, deadline === Infinity ? Infinity : (deadline - now) / 1e6);
      }
      this.serviceTimers();
      // With interrupts enabled any wake resumes the guest (Vm.wake relies on it); HLT sits in a loop in every guest.
      if (interruptible) break;
    }
    this.interruptsPending = true;
    const woken = process.hrtime.bigint();
    // Running again before the stamp: whoever waits for the stamp then sees the new state.
    control.setVcpuState(id, VcpuState.running);
    control.stamp(id, 'woken', woken);
    return undefined;
  }

  /**
   * Acts on what the Local APIC holds before the guest runs again: NMI, INIT, and the
   * highest deliverable interrupt. False when an INIT arrived: the vCPU must wait for a SIPI.
   */
  private prepareInterrupts(kvmRun: kvm.KvmRun): boolean {
    const apic = this.apic;
    if (apic.hasAttention) {
      const requests = apic.takeAttention();
      if (requests & ATTENTION_INIT) return false;
      if (requests & ATTENTION_NMI) this.vcpu.nmi();
    }
    let vector = apic.deliverableVector();
    if (vector >= 0 && kvmRun.readyForInterruptInjection && kvmRun.ifFlag) {
      apic.acknowledge(vector);
      this.vcpu.interrupt(vector);
      vector = apic.deliverableVector();
    }
    // Another one waits: exit as soon as the guest can take it.
    kvmRun.requestInterruptWindow = vector >= 0;
    this.interruptsPending = apic.hasRequests;
    // Held back only by the task priority: a guest lowering CR8 exits only on some hosts
    // (KVM_EXIT_SET_TPR on VMX; kvm_pvm stays in the guest), so look again shortly.
    this.taskPriorityPoll = vector < 0 && apic.heldByTaskPriority() ? monotonicNanos() + TASK_PRIORITY_POLL_NS : Infinity;
    return true;
  }

  /** INIT (SDM vol. 3A, 8.4): the vCPU resets its APIC and waits for a start-up IPI. False when the VM stops first. */
  private restartAfterInit(): boolean {
    this.apic.init();
    this.interruptsPending = false;
    this.vcpu.kvmRun.requestInterruptWindow = false;
    this.control.awaitStartup(this.id);
    return this.waitForStart();
  }

  private nextDeadline(): number {
    const apicDeadline = Math.min(this.apic.nextDeadline, this.taskPriorityPoll);
    const hpet = this.options.hpet;
    if (!hpet) return apicDeadline;
    const hpetDeadline = hpet.nextDeadline();
    return hpetDeadline < apicDeadline ? hpetDeadline : apicDeadline;
  }

  private armTimer(deadline: number): void {
    this.shim.armDeadlineTimer(deadline === Infinity ? 0 : deadline);
    this.armedDeadline = deadline;
  }

  private serviceTimers(): void {
    const now = monotonicNanos();
    this.apic.serviceTimer(now);
    const hpet = this.options.hpet;
    if (hpet && hpet.nextDeadline() <= now) hpet.serviceTimers(now);
    // A fired host timer is spent: arm it again before the next entry, even for the same deadline.
    this.armedDeadline = Infinity;
  }

  private readMsr(kvmRun: kvm.KvmRun): void {
    switch (kvmRun.msrIndex) {
      case IA32_APIC_BASE:
        kvmRun.msrData = this.apic.readApicBase();
        return;
      case IA32_TSC_DEADLINE:
        kvmRun.msrData = this.apic.readTscDeadline();
        return;
      default:
        kvmRun.msrError = true; // #GP, as KVM would for an MSR it does not know
    }
  }

  private writeMsr(kvmRun: kvm.KvmRun): void {
    const value = kvmRun.msrData;
    switch (kvmRun.msrIndex) {
      case IA32_APIC_BASE:
        if (!this.apic.writeApicBase(value)) {
          kvmRun.msrError = true;
          return;
        }
        // KVM keeps CPUID.1:EDX[9] (APIC) in step with its own copy of the MSR: a host write bypasses the filter.
        this.vcpu.setMsrs([{ index: IA32_APIC_BASE, data: this.apic.readApicBase() }]);
        return;
      case IA32_TSC_DEADLINE: {
        // When the guest's TSC reaches `value`: its distance from the TSC now, at the TSC's rate.
        // The TSC is read before the clock, so a delay between the two makes the timer late, never early.
        const cycles = Number(BigInt.asIntN(64, value - this.vcpu.readMsr(IA32_TIME_STAMP_COUNTER)));
        const now = monotonicNanos();
        this.apic.writeTscDeadline(value, now + Math.ceil((Math.max(cycles, 0) * 1e6) / this.options.tscKhz));
        return;
      }
      default:
        kvmRun.msrError = true;
    }
  }

  /** Another vCPU runs, or sleeps where an interrupt can wake it (halted with IF = 1, or paused). */
  private anotherVcpuCanContinue(): boolean {
    for (let other = 0; other < this.control.vcpuCount; other++) {
      if (other === this.id) continue;
      const state = this.control.vcpuState(other);
      if (state === VcpuState.running || state === VcpuState.halted || state === VcpuState.paused) return true;
    }
    return false;
  }

  private handleIo(kvmRun: kvm.KvmRun): boolean {
    const size = kvmRun.ioSize;
    const count = kvmRun.ioCount;
    const offset = kvmRun.ioDataOffset;
    if ((size !== 1 && size !== 2 && size !== 4) || count < 1 || offset + size * count > kvmRun.bytes.length) return false;
    const port = kvmRun.ioPort;
    const bus = this.options.ioBus;
    const isIn = kvmRun.ioDirection === kvm.KVM_EXIT_IO_IN;
    this.lastExit.address = port;
    this.lastExit.write = !isIn;
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
    this.lastExit.address = address;
    this.lastExit.write = write;
    if (write) this.options.mmioBus.write(address, data);
    else this.options.mmioBus.read(address, data);
    return true;
  }

  /**
   * A triple fault. On KVM's AMD side the vCPU already holds the INIT state when KVM returns, so
   * what can be known is the last exit tsvisor handled, and the report says so instead of
   * showing the reset state as the guest's.
   */
  private shutdown(): VmExit {
    const message =
      'The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down.';
    if (!this.options.shutdownResetsVcpu) return this.failure(`${message} Look at the IDT, the stack and the code at RIP below.`);
    const exits = this.options.exitCounts.reduce((sum, count) => sum + count, 0);
    return { kind: 'guest-failure', message: `${message} Look at the guest's IDT and stack.`, registers: lostRegistersReport(this.id, this.lastExit, exits) };
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
      suberror === kvm.KVM_INTERNAL_ERROR_EMULATION && existsSync(PVM_MODULE)
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
        return this.failure('The guest asked for a reset (KVM_SYSTEM_EVENT_RESET); tsvisor does not reboot guests, so the VM stops.');
      case kvm.KVM_SYSTEM_EVENT_CRASH:
        return this.failure('The guest reported a crash (KVM_SYSTEM_EVENT_CRASH).');
      default:
        return this.failure(`The guest raised system event ${type} (KVM_EXIT_SYSTEM_EVENT), which tsvisor does not handle.`);
    }
  }

  private failure(message: string): VmExit {
    return { kind: 'guest-failure', message, registers: this.registerDump() };
  }

  private registerDump(): string | undefined {
    try {
      const regs = this.vcpu.getRegs();
      const sregs = this.vcpu.getSregs();
      return formatRegisterDump(this.id, regs, sregs, this.codeAtRip(instructionPointer(regs, sregs), pagingEnabled(sregs)));
    } catch (error) {
      return `(the registers could not be read: ${(error as Error).message})`;
    }
  }

  private codeAtRip(linear: bigint, paging: boolean): CodeBytes {
    let gpa = Number(linear);
    if (paging) {
      const translation = this.vcpu.translate(linear);
      if (!translation.valid) return { gpa: undefined, bytes: `(RIP ${hex(linear)} is not mapped by the guest's page tables)` };
      gpa = Number(translation.physicalAddress);
    }
    for (let length = INSTRUCTION_BYTES; length > 0; length--) {
      if (this.options.memory.contains(gpa, length)) return { gpa, bytes: this.options.memory.read(gpa, length) };
    }
    return { gpa, bytes: '(not in guest RAM)' };
  }
}
