/**
 * What the QMP server needs of a VM: a small interface, so that its policy is testable with a
 * fake machine and no KVM. vm-adapter.ts implements it over tsvisor's Vm.
 */
import type { CpuDumpState } from '../monitor/cpu-dump.js';

/** QEMU's RunState values that a tsvisor VM can be in (qapi/run-state.json). */
export type RunState = 'prelaunch' | 'running' | 'paused' | 'shutdown' | 'internal-error';

/** A character device, as query-chardev reports it (qapi/char.json, ChardevInfo). */
export interface Chardev {
  readonly label: string;
  readonly filename: string;
  readonly frontendOpen: boolean;
}

/** The VM as a libvirt domain, for tsvisor's x-tsvisor-* commands (domain-commands.ts); each method throws an Error in libvirt's words when it cannot. */
export interface DomainView {
  dumpxml(inactive: boolean): string;
  info(): { readonly id: number; readonly vcpus: number; readonly cpuTimeNs: number; readonly maxMemoryKib: bigint; readonly usedMemoryKib: bigint };
  setVcpus(count: number, flags: { readonly live: boolean; readonly config: boolean; readonly maximum: boolean }): void;
  setMemory(kib: bigint, flags: { readonly live: boolean; readonly config: boolean }): void;
}

export interface QmpMachine {
  /** The VM as a libvirt domain; undefined where there is none to offer. */
  readonly domain: DomainView | undefined;
  /** The VM's name (query-name omits it when there is none). */
  readonly name: string | undefined;
  /** The VM's UUID, in its 36-character form. */
  readonly uuid: string;
  runState(): RunState;
  /** Stops every vCPU; resolves once they are stopped (or the VM has ended meanwhile). */
  pause(): Promise<void>;
  resume(): void;
  /** Ends the VM and tsvisor, as QEMU's quit does: the caller has already told the clients. */
  quit(): void;
  /** Resets the VM as a machine reset does; throws a QmpError when the machine cannot. */
  reset(): Promise<void>;
  /** Presses the power button: what the guest makes of it is the guest's business. */
  pressPowerButton(): void;
  /** vCPU `index`'s registers, read where it stopped (a running vCPU is stopped for the read and goes on). */
  cpuDump(index: number): Promise<CpuDumpState>;
  /** Each vCPU's host thread id, by CPU index. */
  vcpuThreadIds(): readonly number[];
  chardevs(): readonly Chardev[];
}
