/**
 * A vCPU's part in the VM's lifecycle (vm-control.ts): it waits while the VM is created or
 * paused, leaves when it stops, and sleeps on its wake word when it has nothing to run (a halt,
 * a wait for a SIPI) until woken or until a timer deadline. Pausing happens at an exit boundary
 * with any in-flight I/O completed, so the registers are consistent.
 */
import { monotonicNanos } from '../../host/clock.js';
import { VcpuState, VmState, type VcpuStateValue, type VmControl } from '../vm-control.js';

export class VcpuLifecycle {
  constructor(
    private readonly control: VmControl,
    private readonly id: number,
    /** Completes an I/O or MMIO instruction KVM is still in the middle of (KVM_RUN with immediate_exit). */
    private readonly completeInFlight: () => void,
  ) {}

  get running(): boolean {
    return this.control.vmState === VmState.running;
  }

  /**
   * The VM is not simply running: wait while it is created or paused, leave when it stops.
   * Returns false when the vCPU must leave its loop; `resumeAs` is its state once running again.
   */
  obey(resumeAs: VcpuStateValue): boolean {
    const { control, id } = this;
    for (;;) {
      const seen = control.wakeSequence(id);
      const state = control.vmState;
      if (state === VmState.running) {
        control.setVcpuState(id, resumeAs);
        return true;
      }
      if (state === VmState.stopping) return false;
      if (state === VmState.paused) {
        this.completeInFlight();
        control.setVcpuState(id, VcpuState.paused);
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
