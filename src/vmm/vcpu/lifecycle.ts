/**
 * A vCPU's part in the VM's lifecycle (vm-control.ts): it waits while the VM is created or
 * paused, leaves when it stops, and sleeps on its wake word when it has nothing to run (a halt,
 * a wait for a SIPI) until woken or until a timer deadline. Pausing happens at an exit boundary
 * with any in-flight I/O completed, so the registers are consistent.
 */
import { monotonicNanos } from '../../host/clock.js';
import { VcpuState, VmState, type VcpuStateValue, type VmControl } from '../vm-control.js';

/** How obey() ends: the VM runs again (`resumed`, or `reset` when a machine reset came meanwhile), or the vCPU must leave its loop. */
export type Obeyed = 'resumed' | 'reset' | 'stop';

export class VcpuLifecycle {
  constructor(
    private readonly control: VmControl,
    private readonly id: number,
    /** Completes an I/O or MMIO instruction KVM is still in the middle of (KVM_RUN with immediate_exit). */
    private readonly completeInFlight: () => void,
    /** Resets what the vCPU's thread holds for a machine reset; returns the state it powers on in (parked, or running). */
    private readonly powerOn: () => VcpuStateValue,
  ) {}

  get running(): boolean {
    return this.control.vmState === VmState.running;
  }

  /**
   * The VM is not simply running: wait while it is created or paused, leave when it stops. A
   * machine reset is done while paused (Vm.reset asks each vCPU in turn); the vCPU then runs
   * again as it powered on, not as it was. `resumeAs` is its state once running again; with
   * `untilReset` (its guest asked for a reset) it waits, running or not, until the reset came.
   */
  obey(resumeAs: VcpuStateValue, untilReset = false): Obeyed {
    const { control, id } = this;
    let reset = false;
    for (;;) {
      const seen = control.wakeSequence(id);
      const state = control.vmState;
      if (state === VmState.running && (reset || !untilReset)) {
        control.setVcpuState(id, resumeAs);
        return reset ? 'reset' : 'resumed';
      }
      if (state === VmState.stopping) return 'stop';
      if (state === VmState.paused) {
        this.completeInFlight();
        control.setVcpuState(id, VcpuState.paused);
        if (control.resetRequested(id)) {
          resumeAs = this.powerOn();
          reset = true;
          control.resetDone(id);
          continue;
        }
      }
      control.waitForWake(id, seen);
    }
  }

  /** The wake word's value, read before looking at requests: sleep(seen, ...) returns at once if a wake came since. */
  wakeSequence(): number {
    return this.control.wakeSequence(this.id);
  }

  /** Sleeps, costing the host nothing, until woken after `seen` or until `deadline` (monotonic ns; Infinity: no timeout). */
  sleep(seen: number, deadline: number): void {
    if (deadline === Infinity) {
      this.control.waitForWake(this.id, seen);
      return;
    }
    const left = deadline - monotonicNanos();
    if (left > 0) this.control.waitForWake(this.id, seen, left / 1e6);
  }

  setState(state: VcpuStateValue): void {
    this.control.setVcpuState(this.id, state);
  }
}
