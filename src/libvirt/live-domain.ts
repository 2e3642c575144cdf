/**
 * A running VM as a libvirt domain, for the domain operations over its QMP socket (tsvisor
 * domain): its definition as it runs (live) and as stored for its next start (config), and
 * setvcpus and setmem with libvirt's semantics and words (virsh -c test:///default for the
 * words; libvirt's QEMU driver for a domain without a balloon). A VM not started from domain
 * XML is described by the domain its config translates to (domxml-from-toml).
 */
import { readFileSync } from 'node:fs';
import type { DomainDefinition } from './domain.js';
import { writeDomain } from './write-domain.js';

/** What the live domain needs of the VM. */
export interface PluggableVm {
  readonly currentVcpus: number;
  setCurrentVcpus(count: number): void;
  /** The vCPU threads' kernel tids, for their CPU time. */
  readonly threadIds: readonly number[];
}

export class DomainOperationError extends Error {}

export interface SetFlags {
  readonly live: boolean;
  readonly config: boolean;
}

/** libvirt numbers running domains from 1; one tsvisor process runs one. */
const DOMAIN_ID = 1;

export class LiveDomain {
  /** The stored definition: what --config changes, for the domain's next start. */
  private stored: DomainDefinition;

  constructor(
    private readonly vm: PluggableVm,
    private readonly started: DomainDefinition,
  ) {
    this.stored = started;
  }

  get name(): string {
    return this.started.name;
  }

  dumpxml(inactive: boolean): string {
    if (inactive) return writeDomain(this.stored);
    return writeDomain(this.started, { id: DOMAIN_ID, currentVcpus: this.vm.currentVcpus });
  }

  info(): { readonly id: number; readonly vcpus: number; readonly cpuTimeNs: number; readonly maxMemoryKib: bigint; readonly usedMemoryKib: bigint } {
    return { id: DOMAIN_ID, vcpus: this.vm.currentVcpus, cpuTimeNs: this.cpuTimeNs(), maxMemoryKib: this.started.memoryKib, usedMemoryKib: this.started.currentMemoryKib };
  }

  /**
   * setvcpus COUNT [--live] [--config] [--maximum]. --maximum changes the stored maximum (with
   * --config only, as libvirt asks); otherwise the count may not exceed the maximum, and live
   * it plugs vCPUs in or out of the running VM (Vm.setCurrentVcpus says when it cannot).
   */
  setVcpus(count: number, flags: SetFlags & { readonly maximum: boolean }): void {
    if (flags.maximum) {
      if (flags.live) throw new DomainOperationError('unsupported configuration: changing the maximum vCPU count of a running domain is not supported; use --maximum --config');
      if (count < this.stored.vcpus.current) throw new DomainOperationError(`invalid argument: the maximum vCPU count (${count}) is below the current one (${this.stored.vcpus.current}); lower that first`);
      this.stored = { ...this.stored, vcpus: { ...this.stored.vcpus, maximum: count } };
      return;
    }
    const maximum = flags.config && !flags.live ? this.stored.vcpus.maximum : this.started.vcpus.maximum;
    if (count > maximum) throw new DomainOperationError(`invalid argument: requested cpu amount exceeds maximum (${count} > ${maximum})`);
    if (count < 1) throw new DomainOperationError('invalid argument: the domain needs at least one vCPU');
    if (flags.live) {
      try {
        this.vm.setCurrentVcpus(count);
      } catch (error) {
        throw new DomainOperationError(`operation failed: ${(error as Error).message}`);
      }
    }
    if (flags.config) this.stored = { ...this.stored, vcpus: { ...this.stored.vcpus, current: count } };
  }

  /** setmem SIZE [--live] [--config]: the stored current memory; live there is no balloon to ask. */
  setMemory(kib: bigint, flags: SetFlags): void {
    const limit = flags.live ? this.started.memoryKib : this.stored.memoryKib;
    if (kib > limit) throw new DomainOperationError('invalid argument: cannot set memory higher than max memory');
    // libvirt's QEMU driver's words for a domain without a balloon device.
    if (flags.live) throw new DomainOperationError('Unable to change memory of active domain without the balloon device and guest OS balloon driver');
    if (flags.config) this.stored = { ...this.stored, currentMemoryKib: kib };
  }

  /** The vCPU threads' user and system time, from /proc (in clock ticks of 10 ms). */
  private cpuTimeNs(): number {
    let ticks = 0;
    for (const tid of this.vm.threadIds) {
      try {
        const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
        // utime and stime are fields 14 and 15 of stat(5); after "comm) " the list starts at field 3.
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // a thread that ended takes its time with it
      }
    }
    return ticks * 1e7;
  }
}
