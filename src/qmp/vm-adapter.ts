/**
 * tsvisor's Vm as the QMP server's machine (machine.ts), with QEMU 7.2's run states (measured
 * over QMP): "prelaunch" until a -S machine's first cont, and after a reset of a machine that
 * was not running; "shutdown" once the guest powered off a -no-shutdown machine, until a
 * reset. And the SHUTDOWN event QEMU would emit for each way a tsvisor VM ends.
 */
import type { Vm } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';
import type { CpuDumpState } from '../monitor/cpu-dump.js';
import { VcpuState } from '../vmm/vm-control.js';
import { TsvisorError } from '../errors.js';
import type { Chardev, DomainView, QmpMachine, RunState } from './machine.js';
import { genericError } from './qmp-error.js';

/** What the adapter uses of a Vm. */
export type QmpVm = Pick<Vm, 'pause' | 'resume' | 'stop' | 'reset' | 'threadIds' | 'vcpuState' | 'cpuDumpState'> & { readonly spec: { readonly name: string } };

/** tsvisor's TOML configs carry no UUID; QEMU without -uuid reports this one. */
export const NO_UUID = '00000000-0000-0000-0000-000000000000';

export class VmMachine implements QmpMachine {
  private state: RunState = 'prelaunch';
  private ended: Promise<unknown> = new Promise(() => {});

  constructor(
    private readonly vm: QmpVm,
    private readonly chardevList: readonly Chardev[],
    readonly domain: DomainView | undefined = undefined,
    /** -uuid's, or a domain's. */
    readonly uuid: string = NO_UUID,
  ) {}

  get name(): string {
    return this.vm.spec.name;
  }

  /** The VM's run has begun (with `paused`, -S: its vCPUs wait for cont); `run` settles when it ends. */
  started(run: Promise<unknown>, options: { readonly paused?: boolean } = {}): void {
    this.state = options.paused ? 'prelaunch' : 'running';
    this.ended = run.then(
      () => (this.state = 'shutdown'),
      () => (this.state = 'shutdown'),
    );
  }

  runState(): RunState {
    return this.state;
  }

  /** A VM that ends while it pauses (the guest powers off) no longer pauses: the wait ends with it. */
  async pause(): Promise<void> {
    await Promise.race([this.vm.pause(), this.ended]);
    if (this.state === 'running') this.state = 'paused';
  }

  resume(): void {
    this.vm.resume();
    if (this.state === 'paused' || this.state === 'prelaunch') this.state = 'running';
  }

  /** The guest powered off or reset ("shutdown") or crashed ("internal-error"), and the VM stopped its vCPUs instead of ending (-no-shutdown, libvirt's preserve). */
  guestStopped(state: 'shutdown' | 'internal-error'): void {
    this.state = state;
  }

  quit(): void {
    void this.vm.stop();
  }

  /**
   * A machine reset (Vm.reset). A machine that ran runs on; one that did not (paused, or shut
   * down with -no-shutdown) waits in "prelaunch" for cont, as QEMU 7.2's does. A VM that ended
   * meanwhile stays ended; one whose reset failed stays paused, and the client is told why.
   */
  async reset(): Promise<void> {
    let done: boolean;
    try {
      done = await this.vm.reset();
    } catch (error) {
      if (!(error instanceof TsvisorError)) throw error;
      this.state = 'paused'; // the VM stays paused (ResetError)
      throw genericError(error.message);
    }
    if (done && this.state !== 'running') this.state = 'prelaunch';
  }

  /** tsvisor's guests have no ACPI power button: as QEMU with such a guest, the POWERDOWN event is all there is. */
  pressPowerButton(): void {}

  /**
   * A running VM is paused for the read and goes on after it, with no STOP or RESUME event (as
   * QEMU's monitor stops a vCPU for it unseen). A stop that comes meanwhile keeps it paused.
   */
  async cpuDump(index: number): Promise<CpuDumpState> {
    const state = this.vm.vcpuState(index);
    const halted = state === VcpuState.halted || state === VcpuState.haltedUninterruptible || state === VcpuState.parked;
    if (this.state !== 'running') return this.vm.cpuDumpState(index, halted);
    await Promise.race([this.vm.pause(), this.ended]);
    try {
      return this.vm.cpuDumpState(index, halted);
    } finally {
      if (this.state === 'running') this.vm.resume();
    }
  }

  vcpuThreadIds(): readonly number[] {
    return this.vm.threadIds;
  }

  chardevs(): readonly Chardev[] {
    return this.chardevList;
  }
}

/**
 * The SHUTDOWN event's data for a VM that ended (qapi/run-state.json, ShutdownCause): the guest
 * powering off is "guest-shutdown", a signal to tsvisor "host-signal". quit has sent its own
 * ("host-qmp-quit") before the VM stopped. A guest's write to the debug-exit port ends QEMU at
 * once, with no event, and so it ends tsvisor; nor does a guest failure have one.
 */
export function shutdownEventOf(exit: VmExit): { readonly guest: boolean; readonly reason: string } | undefined {
  if (exit.kind === 'power-off') return { guest: true, reason: 'guest-shutdown' };
  if (exit.kind === 'stopped' && exit.signal !== undefined) return { guest: false, reason: 'host-signal' };
  return undefined;
}
