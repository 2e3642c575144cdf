/**
 * Vm: a running virtual machine built from a VmSpec. It opens KVM, maps guest RAM, builds
 * the platform devices, loads the kernel, sets up vCPU 0 in real mode at the entry point
 * (as AxVisor does) and runs it until the guest ends.
 */
import { vcpuCpuid } from '../boot/cpuid.js';
import { initialCpuState } from '../boot/cpu-state.js';
import { loadImages } from '../boot/load-images.js';
import { multibootInputsOf } from '../boot/multiboot-info.js';
import { writeBootData } from '../boot/prepare-boot.js';
import { KVM_TSS_ADDRESS } from '../boot/real-mode.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { UnassignedAccess } from '../devices/bus.js';
import * as kvm from '../kvm/index.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { SerialConsole } from './console.js';
import { buildPlatform, type Platform } from './platform.js';
import { VcpuRunner, type RunControl } from './vcpu-runner.js';

const READONLY_MEMORY = {
  cap: kvm.KVM_CAP_READONLY_MEM,
  name: 'KVM_CAP_READONLY_MEM',
  why: 'memory regions without the WRITE flag are read-only memory slots (KVM_MEM_READONLY)',
};
import type { VmExit } from './vm-exit.js';

export interface VmOptions {
  /** The host side of COM1. */
  readonly console: SerialConsole;
  /** Tells the user what the guest did that they should know (a write to read-only memory, ...). */
  readonly report: (message: string) => void;
  /** Called for each access to an address no device owns (for tracing). */
  readonly onUnassigned?: (access: UnassignedAccess) => void;
}

export class Vm {
  private destroyed = false;

  private constructor(
    readonly spec: VmSpec,
    private readonly kvmSystem: kvm.Kvm,
    private readonly kvmVm: kvm.Vm,
    readonly memory: GuestMemory,
    readonly platform: Platform,
    private readonly bootVcpu: kvm.Vcpu,
    private readonly console: SerialConsole,
    private readonly control: RunControl,
  ) {}

  /** Builds the VM. Everything made before a failure is released again before the error propagates. */
  static create(spec: VmSpec, options: VmOptions): Vm {
    const cleanup: (() => void)[] = [];
    try {
      const kvmSystem = kvm.Kvm.open();
      cleanup.push(() => kvmSystem.close());
      kvmSystem.requireCapabilities();

      if (spec.memoryRegions.some((region) => region.readOnly)) kvmSystem.requireCapabilities([READONLY_MEMORY]);

      // Guest RAM outlives the VM that maps it: it is released after the VM is closed.
      const memory = GuestMemory.allocate(
        spec.memoryRegions
          .filter((region) => region.mapType !== 'reserved')
          .map((region) => ({ gpa: region.gpa, size: region.size, readOnly: region.readOnly, backing: region.mapType === 'identical' ? 'pinned' : 'anonymous' })),
      );
      cleanup.push(() => memory.release());
      const kvmVm = kvmSystem.createVm();
      cleanup.push(() => kvmVm.close());
      kvmVm.setTssAddr(KVM_TSS_ADDRESS);
      memory.registerWith(kvmVm);

      const control: RunControl = { exit: undefined };
      const platform = buildPlatform(spec, memory, {
        serialOutput: options.console,
        onDebugExit: (value) => (control.exit ??= { kind: 'debug-exit', value }),
        onPowerOff: () => (control.exit ??= { kind: 'power-off' }),
        report: options.report,
      });
      if (options.onUnassigned) {
        platform.ioBus.onUnassigned = options.onUnassigned;
        platform.mmioBus.onUnassigned = options.onUnassigned;
      }

      loadImages(memory, spec.images);
      writeBootData(memory, spec.boot, multibootInputsOf(spec));

      const vcpu = kvmVm.createVcpu(0);
      cleanup.push(() => vcpu.close());
      vcpu.setCpuid2(vcpuCpuid(kvmSystem.getSupportedCpuid(), { apicId: 0, tscKhz: vcpu.getTscKhz() }).entries);
      const state = initialCpuState(spec.boot, vcpu.getSregs());
      vcpu.setSregs(state.sregs);
      vcpu.setRegs(state.regs);

      return new Vm(spec, kvmSystem, kvmVm, memory, platform, vcpu, options.console, control);
    } catch (error) {
      for (const release of cleanup.reverse()) release();
      throw error;
    }
  }

  /** Runs the guest until it ends. */
  async run(): Promise<VmExit> {
    const runner = new VcpuRunner(this.bootVcpu, this.platform.ioBus, this.platform.mmioBus, this.memory, this.control, () =>
      this.console.pumpInput(this.platform.com1),
    );
    return runner.run();
  }

  /** What the guest did in read-only and reserved memory, a line per region it touched. */
  guardedRegionSummary(): string[] {
    return this.platform.guardedRegions.flatMap((region) => region.summary() ?? []);
  }

  /** Releases the vCPU, the VM, KVM and guest RAM, in that order. */
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.bootVcpu.close();
    this.kvmVm.close();
    this.kvmSystem.close();
    this.memory.release();
  }
}
