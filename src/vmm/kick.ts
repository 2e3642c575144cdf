/**
 * Kicking a vCPU out of KVM_RUN from any thread: set its kvm_run.immediate_exit, then send its
 * thread the kick signal. immediate_exit covers the window where the signal lands before the
 * vCPU enters KVM_RUN (it then returns EINTR at once); the signal covers a vCPU already in
 * the guest. The vCPU clears immediate_exit after each return, before it looks at requests,
 * so a kick is never lost (docs/threads.md). A vCPU asleep on its wake word
 * is woken too.
 */
import { nativeShim } from '../host/shim.js';
import type * as kvm from '../kvm/index.js';
import type { VmControl } from './vm-control.js';

export class Kicker {
  constructor(
    private readonly control: VmControl,
    /** Every vCPU's kvm_run page, by id, as this thread sees it. */
    private readonly runs: readonly kvm.KvmRun[],
  ) {}

  kick(id: number): void {
    const run = this.runs[id];
    if (!run) throw new RangeError(`there is no vCPU ${id}`);
    run.immediateExit = true;
    const tid = this.control.tid(id);
    if (tid > 0) nativeShim().kickThread(tid);
    this.control.wake(id);
  }

  kickAll(except?: number): void {
    for (let id = 0; id < this.runs.length; id++) if (id !== except) this.kick(id);
  }
}
