/**
 * Vm: a running virtual machine built from a VmSpec. It opens KVM, maps guest RAM, builds
 * the platform devices, loads the kernel, sets up vCPU 0 in real mode at the entry point
 * (as AxVisor does) and runs it until the guest ends.
 */
import { vcpuCpuid } from '../boot/cpuid.js';
import { loadFlatImage } from '../boot/flat-image.js';
import { KVM_TSS_ADDRESS, realModeRegs, realModeSregs } from '../boot/real-mode.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { UnassignedAccess } from '../devices/bus.js';
import * as kvm from '../kvm/index.js';
import { GuestMemory } from '../memory/guest-memory.js';
import type { SerialConsole } from './console.js';
import { buildPlatform, type Platform } from './platform.js';
import { VcpuRunner, type RunControl } from './vcpu-runner.js';
import type { VmExit } from './vm-exit.js';

export interface VmOptions {
  /** The host side of COM1. */
  readonly console: SerialConsole;
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

      // Guest RAM outlives the VM that maps it: it is released after the VM is closed.
      const memory = GuestMemory.allocate(spec.memoryRegions);
      cleanup.push(() => memory.release());
      const kvmVm = kvmSystem.createVm();
      cleanup.push(() => kvmVm.close());
      kvmVm.setTssAddr(KVM_TSS_ADDRESS);
      memory.registerWith(kvmVm);

      const control: RunControl = { exit: undefined };
      const platform = buildPlatform({
        serialOutput: options.console,
        onDebugExit: (value) => (control.exit ??= { kind: 'debug-exit', value }),
        onPowerOff: () => (control.exit ??= { kind: 'power-off' }),
      });
      if (options.onUnassigned) {
        platform.ioBus.onUnassigned = options.onUnassigned;
        platform.mmioBus.onUnassigned = options.onUnassigned;
      }

      loadFlatImage(memory, spec.kernel);

      const vcpu = kvmVm.createVcpu(0);
      cleanup.push(() => vcpu.close());
      vcpu.setCpuid2(vcpuCpuid(kvmSystem.getSupportedCpuid(), 0));
      vcpu.setSregs(realModeSregs(vcpu.getSregs(), spec.entryPoint));
      vcpu.setRegs(realModeRegs(spec.entryPoint));

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
