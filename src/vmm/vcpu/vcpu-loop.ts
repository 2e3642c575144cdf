/**
 * The exit loop of one vCPU, on its worker thread: before each entry it acts on what its Local
 * APIC holds (injection.ts decides), arms its host timer for its next deadline, runs KVM_RUN,
 * and hands the exit to the exit handler (exit-handler.ts), until the VM ends. Between exits it
 * obeys the VM's lifecycle (lifecycle.ts). docs/threads.md describes the protocol with the
 * other threads.
 *
 * HLT (SDM vol. 2A "HLT", vol. 3A 8.4 and 10.8): a halted vCPU sleeps until what ends HLT on
 * hardware: a deliverable interrupt with IF = 1, an NMI, an INIT; not a kick, a masked timer,
 * or a vector the task priority holds back. A vCPU halted with IF = 0 or waiting for a SIPI
 * cannot run by itself; when none of the VM's vCPUs can and no NMI, INIT or SIPI is on its way
 * (VmControl.noVcpuCanRun), the VM ends with status 4 instead of hanging.
 *
 * Timers: the vCPU's host timer (the native shim's) is armed for its Local APIC timer's
 * deadline; at the deadline the kick signal sets immediate_exit and interrupts KVM_RUN
 * (KVM_EXIT_INTR), and the loop services the timer. immediate_exit is cleared only there, so a
 * signal that lands while another exit is handled makes the next KVM_RUN return at once.
 *
 * The hot path (an I/O or MMIO exit with no interrupt pending) allocates nothing.
 */
import { resetVcpu, startupVcpu } from '../../boot/reset-vcpu.js';
import { ATTENTION_INIT, ATTENTION_NMI, ATTENTION_STARTUP } from '../../devices/local-apic-state.js';
import { IA32_APIC_BASE, type LocalApic } from '../../devices/local-apic.js';
import { monotonicNanos } from '../../host/clock.js';
import type { NativeShim } from '../../host/shim.js';
import { VcpuState, type VcpuStateValue, type VmControl } from '../vm-control.js';
import type { VmExit } from '../vm-exit.js';
import { EXIT_REASON_SLOTS } from '../vm-stats.js';
import { ExitAction, type ExitHandler, type VcpuPort } from './exit-handler.js';
import { decidePending } from './injection.js';
import { VcpuLifecycle } from './lifecycle.js';
import { TimerSources, type TimerSource } from './timer-sources.js';

/** What the vCPU's own devices decided: a device that ends the VM (debug-exit, power-off) sets `exit`. */
export interface RunControl {
  exit: VmExit | undefined;
}

export interface VcpuLoopOptions {
  readonly vcpu: VcpuPort;
  /** The host address of this vCPU's kvm_run.immediate_exit byte, which the kick handler sets. */
  readonly immediateExitAddress: bigint;
  readonly control: VmControl;
  readonly exits: ExitHandler;
  readonly localApic: LocalApic;
  readonly local: RunControl;
  readonly shim: Pick<NativeShim, 'setImmediateExitByte' | 'armDeadlineTimer' | 'releaseThread'>;
  readonly exitCounts: Float64Array;
  readonly exitNanos: Float64Array;
  readonly timed: boolean;
  /**
   * What the guest's reset (a triple fault), power-off and crash (any other guest failure) each
   * do: 'exit' ends the VM with it; 'reset' and 'pause' tell the main thread (`tellMain`),
   * which resets the machine (Vm.reset) or pauses it, and this vCPU waits for the reset.
   */
  readonly onGuestReset: GuestAction;
  readonly onGuestPowerOff: GuestAction;
  readonly onGuestCrash: GuestAction;
  readonly tellMain: (request: GuestRequest) => void;
}

/** What the VM does when its guest resets, powers off or crashes (QEMU's -no-reboot and -no-shutdown, libvirt's on_reboot, on_poweroff and on_crash). */
export type GuestAction = 'exit' | 'reset' | 'pause';

/** What a vCPU asks of the main thread when its guest ends in a way the VM takes without ending. */
export interface GuestRequest {
  readonly cause: 'reset' | 'power-off' | 'crash';
  readonly action: 'reset' | 'pause';
}

/** How often a vCPU looks at CR8 while the task priority alone holds an interrupt back. */
const TASK_PRIORITY_POLL_NS = 200_000;
/** What ends a halt whatever RFLAGS.IF says. */
const NON_MASKABLE = ATTENTION_NMI | ATTENTION_INIT;

/** A step's outcome: go on (undefined), leave because the VM stops, or end the VM. */
type Outcome = VmExit | 'stop' | undefined;

export class VcpuLoop {
  private readonly vcpu: VcpuPort;
  private readonly id: number;
  private readonly apic: LocalApic;
  private readonly control: VmControl;
  private readonly lifecycle: VcpuLifecycle;
  private readonly timers: TimerSources;
  /** An application processor waits for a SIPI from power-on; any vCPU after INIT without the BSP flag. */
  private waitingForStartup: boolean;
  /** IRR may hold a vector to inject: look before each entry until it is empty. */
  private interruptsPending = false;
  /** When to look at CR8 again for an interrupt the task priority holds back (ns), or Infinity. */
  private taskPriorityPoll = Infinity;
  /** The host timer's deadline (monotonic ns), or Infinity when disarmed. */
  private armedDeadline = Infinity;

  constructor(private readonly options: VcpuLoopOptions) {
    this.vcpu = options.vcpu;
    this.id = options.vcpu.id;
    this.apic = options.localApic;
    this.control = options.control;
    this.waitingForStartup = this.id !== 0;
    this.lifecycle = new VcpuLifecycle(options.control, this.id, () => this.completeInFlight(), () => this.powerOn());
    const apic = this.apic;
    const apicTimer: TimerSource = { nextDeadline: () => apic.nextDeadline, service: (now) => apic.serviceTimer(now) };
    const taskPriority: TimerSource = {
      nextDeadline: () => this.taskPriorityPoll,
      service: () => {
        this.taskPriorityPoll = Infinity;
        this.interruptsPending = true;
      },
    };
    this.timers = new TimerSources([apicTimer, taskPriority]);
  }

  /** Runs the vCPU until the VM ends: how the guest ended it, or undefined when it was stopped from outside. */
  run(): VmExit | undefined {
    try {
      this.options.shim.setImmediateExitByte(this.options.immediateExitAddress);
      const outcome = this.loop();
      return outcome === 'stop' ? undefined : outcome;
    } finally {
      this.options.shim.releaseThread();
    }
  }

  private loop(): Outcome {
    const { exits, local, exitCounts, exitNanos, timed } = this.options;
    const vcpu = this.vcpu;
    const apic = this.apic;
    const lifecycle = this.lifecycle;
    // Its state from the first loop, whether or not the VM already runs (a pause waits for it).
    lifecycle.setState(this.waitingForStartup ? VcpuState.parked : VcpuState.running);
    for (;;) {
      if (!lifecycle.running && lifecycle.obey(this.waitingForStartup ? VcpuState.parked : VcpuState.running) === 'stop') return 'stop';
      if (this.waitingForStartup) {
        const outcome = this.awaitStartup();
        if (outcome) return outcome;
        continue;
      }
      if (apic.hasAttention || this.interruptsPending) {
        const outcome = this.prepareEntry();
        if (outcome) return outcome;
        if (this.waitingForStartup) continue;
      }
      const deadline = this.timers.nextDeadline();
      if (deadline !== this.armedDeadline) this.armTimer(deadline);
      const reason = vcpu.run();
      const start = timed ? performance.now() : 0;
      const action = exits.handle(reason);
      if (reason < EXIT_REASON_SLOTS) {
        exitCounts[reason] = (exitCounts[reason] as number) + 1;
        if (timed) exitNanos[reason] = (exitNanos[reason] as number) + (performance.now() - start) * 1e6;
      }
      switch (action) {
        case ExitAction.interrupted:
          this.serviceTimers();
          this.control.stamp(this.id, 'kick-handled');
          break;
        case ExitAction.interruptWindow:
          this.interruptsPending = true;
          break;
        case ExitAction.halt: {
          const outcome = this.halt();
          if (outcome) return outcome;
          break;
        }
        case ExitAction.end:
          if (!this.awaitMachineReset(exits.ending)) return exits.ending;
          if (lifecycle.obey(VcpuState.running, true) === 'stop') return 'stop';
          continue; // powered on again: vCPU 0 from its boot entry, the others parked
      }
      if (local.exit) {
        if (!this.awaitMachineReset(local.exit)) return local.exit;
        local.exit = undefined;
        if (lifecycle.obey(VcpuState.running, true) === 'stop') return 'stop';
      }
    }
  }

  /** Acts on the APIC's events and vectors before the guest runs again (see injection.ts). */
  private prepareEntry(): Outcome {
    const { apic, vcpu } = this;
    const kvmRun = vcpu.kvmRun;
    const events = apic.hasAttention ? apic.takeAttention() : 0;
    const readiness = {
      waitingForStartup: this.waitingForStartup,
      bootstrapProcessor: apic.bootstrapProcessor,
      readyForInjection: kvmRun.readyForInterruptInjection,
      interruptFlag: kvmRun.ifFlag,
    };
    let pending = decidePending(
      { events, startupVector: events & ATTENTION_STARTUP ? apic.startupVector : -1, deliverableVector: apic.deliverableVector(), heldByTaskPriority: apic.heldByTaskPriority() },
      readiness,
    );
    if (pending.init) this.init();
    if (pending.startupVector >= 0) {
      this.start(pending.startupVector);
      return undefined;
    }
    if (pending.waitForStartup) return this.park();
    if (pending.nmi) vcpu.nmi();
    if (pending.vector >= 0) {
      apic.acknowledge(pending.vector);
      vcpu.interrupt(pending.vector);
      // KVM now holds that vector: another one deliverable must wait for a window.
      pending = decidePending(
        { events: 0, startupVector: -1, deliverableVector: apic.deliverableVector(), heldByTaskPriority: apic.heldByTaskPriority() },
        { ...readiness, readyForInjection: false },
      );
    }
    kvmRun.requestInterruptWindow = pending.requestWindow;
    this.interruptsPending = apic.hasRequests;
    this.taskPriorityPoll = pending.pollTaskPriority ? monotonicNanos() + TASK_PRIORITY_POLL_NS : Infinity;
    return undefined;
  }

  /**
   * INIT (SDM vol. 3A, 9.1): the Local APIC and the processor reset (cpu-reset.ts), with any
   * vector or NMI KVM still held for injection dropped; the BSP then runs from the reset
   * vector, where the reset leaves it. KVM first finishes an in-flight I/O or MMIO instruction,
   * which would otherwise write its registers over the reset on the next entry.
   */
  private init(): void {
    this.completeInFlight();
    this.apic.init();
    this.interruptsPending = false;
    this.taskPriorityPoll = Infinity;
    this.vcpu.kvmRun.requestInterruptWindow = false;
    resetVcpu(this.vcpu, 'init');
  }

  /**
   * Whether the VM takes `exit` without ending: a triple fault (a reset, on a PC), a power-off
   * or a crash whose action is not 'exit'. The main thread is then told, and this vCPU must
   * wait for the machine reset (obey, untilReset).
   */
  private awaitMachineReset(exit: VmExit | undefined): boolean {
    const { onGuestReset, onGuestPowerOff, onGuestCrash, tellMain } = this.options;
    if (exit === undefined || exit.kind === 'debug-exit' || exit.kind === 'stopped') return false;
    const cause = exit.kind === 'power-off' ? 'power-off' : exit.tripleFault === true ? 'reset' : 'crash';
    const action = cause === 'power-off' ? onGuestPowerOff : cause === 'reset' ? onGuestReset : onGuestCrash;
    if (action === 'exit') return false;
    tellMain({ cause, action });
    return true;
  }

  /**
   * A machine reset (Vm.reset), while the VM is paused: the Local APIC as at power-on, nothing
   * pending or armed, vCPU 0 to run and the others to wait for a SIPI. The registers are the
   * main thread's to set (it knows the boot entry), before it asks for this.
   */
  private powerOn(): VcpuStateValue {
    this.apic.powerOn();
    this.interruptsPending = false;
    this.taskPriorityPoll = Infinity;
    this.vcpu.kvmRun.requestInterruptWindow = false;
    this.armTimer(Infinity);
    // KVM keeps CPUID.1:EDX[9] in step with its copy of IA32_APIC_BASE, which the guest may have disabled.
    this.vcpu.setMsrs([{ index: IA32_APIC_BASE, data: this.apic.readApicBase() }]);
    // The kicks that brought it here are spent (the reset is what they asked it to look at), and
    // so is the guest's reset or power-off it waited on.
    this.vcpu.kvmRun.immediateExit = false;
    this.options.exits.inFlight = false;
    this.options.exits.ending = undefined;
    this.waitingForStartup = this.id !== 0;
    return this.waitingForStartup ? VcpuState.parked : VcpuState.running;
  }

  /** A start-up IPI for a processor that waits for one: real mode at vector << 12. */
  private start(vector: number): void {
    startupVcpu(this.vcpu, vector);
    this.waitingForStartup = false;
    this.control.becomeLive(this.id);
    this.lifecycle.setState(VcpuState.running);
  }

  /** INIT made this processor wait for a SIPI: it cannot run by itself until one comes. */
  private park(): Outcome {
    this.waitingForStartup = true;
    this.lifecycle.setState(VcpuState.parked);
    this.control.becomeStuck(this.id); // whatever it says, awaitStartup looks at the events next
    return undefined;
  }

  /**
   * Parked: sleep until a SIPI (or INIT) arrives, or the VM's state changes. When no vCPU can
   * run and no event is on its way, none ever will send one: the VM ends.
   */
  private awaitStartup(): Outcome {
    const { lifecycle, apic, control } = this;
    lifecycle.setState(VcpuState.parked);
    for (;;) {
      const seen = lifecycle.wakeSequence();
      if (!lifecycle.running) return undefined;
      if (apic.hasAttention) {
        const outcome = this.prepareEntry();
        if (outcome || !this.waitingForStartup) return outcome;
      }
      // An event that revived it did not start it: the count goes back (or, for an event raised
      // before it parked, it looks once more first).
      if (!control.becomeStuck(this.id)) continue;
      if (control.noVcpuCanRun() && !apic.hasAttention) {
        return this.options.exits.failure(
          `vCPU ${this.id} waits for a start-up IPI, and no other vCPU is running or can be woken to send one: the VM can never continue.`,
        );
      }
      lifecycle.sleep(seen, Infinity);
    }
  }

  /**
   * HLT: sleep on the wake word until what ends HLT arrives, servicing this vCPU's timers at
   * their deadlines. With IF = 0 only NMI and INIT end it, and the vCPU cannot run by itself:
   * when no vCPU can and no event is on its way, the VM ends rather than hang.
   */
  private halt(): Outcome {
    const { control, id, lifecycle } = this;
    const interruptible = this.vcpu.kvmRun.ifFlag;
    const haltedState = interruptible ? VcpuState.halted : VcpuState.haltedUninterruptible;
    lifecycle.setState(haltedState);
    if (!interruptible) control.becomeStuck(id);
    for (;;) {
      const seen = lifecycle.wakeSequence();
      if (!lifecycle.running) {
        const obeyed = lifecycle.obey(haltedState);
        if (obeyed === 'stop') return 'stop';
        if (obeyed === 'reset') return undefined; // the halt ended with the machine's reset
      }
      this.serviceTimers();
      if (this.haltEnds(interruptible)) break;
      // An event that revived it did not end the halt (a SIPI): the count goes back, or it looks again.
      if (!interruptible && !control.becomeStuck(id)) continue;
      if (!interruptible && control.noVcpuCanRun() && !this.haltEnds(interruptible)) {
        return this.options.exits.failure(
          `vCPU ${id} halted with interrupts disabled (HLT after CLI), and no other vCPU is running or can be woken to wake it: the VM can never continue. End the guest through the debug-exit port (a write to I/O port 0xf4) or the power-off register (0x2000 to port 0x604) to choose how tsvisor exits.`,
        );
      }
      lifecycle.sleep(seen, this.timers.nextDeadline());
    }
    if (!interruptible) control.becomeLive(id);
    this.interruptsPending = true;
    const woken = process.hrtime.bigint();
    // Running again before the stamp: whoever waits for the stamp then sees the new state.
    lifecycle.setState(VcpuState.running);
    control.stamp(id, 'woken', woken);
    return undefined;
  }

  private haltEnds(interruptible: boolean): boolean {
    const apic = this.apic;
    if (apic.pendingEvents & NON_MASKABLE) return true;
    if (!interruptible) return false;
    if (apic.hasAttention) apic.absorbAttention();
    return apic.deliverableVector() >= 0;
  }

  private serviceTimers(): void {
    this.timers.service(monotonicNanos());
    // A fired host timer is spent: arm it again before the next entry, even for the same deadline.
    this.armedDeadline = Infinity;
  }

  private armTimer(deadline: number): void {
    this.options.shim.armDeadlineTimer(deadline === Infinity ? 0 : deadline);
    this.armedDeadline = deadline;
  }

  /** KVM completes an I/O or MMIO instruction on the next entry: enter with immediate_exit so it does, without running the guest. */
  private completeInFlight(): void {
    const exits = this.options.exits;
    if (!exits.inFlight) return;
    const kvmRun = this.vcpu.kvmRun;
    kvmRun.immediateExit = true;
    this.vcpu.run();
    kvmRun.immediateExit = false;
    exits.inFlight = false;
  }
}
