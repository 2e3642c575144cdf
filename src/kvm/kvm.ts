/** The KVM system: the /dev/kvm file descriptor and its ioctls. */
import { ExitStatus } from '../errors.js';
import { Errno, describeErrno } from '../host/errno.js';
import * as libc from '../host/libc.js';
import { REQUIRED_CAPABILITIES, type Capability } from './capabilities.js';
import { KVM_API_VERSION } from './constants.js';
import { KvmError } from './errors.js';
import {
  KVM_CHECK_EXTENSION,
  KVM_CREATE_VM,
  KVM_GET_API_VERSION,
  KVM_GET_SUPPORTED_CPUID,
  KVM_GET_VCPU_MMAP_SIZE,
} from './ioctls.js';
import { checked, ioctlReadCpuid2 } from './ioctl.js';
import type { KvmCpuidEntry2 } from './structs.js';
import { Vm } from './vm.js';

export const KVM_DEVICE = '/dev/kvm';

/** The KVM device tsvisor opens: TSVISOR_KVM_DEVICE when set (a device node elsewhere, or a test's fence), else /dev/kvm. */
export function kvmDevicePath(): string {
  return process.env.TSVISOR_KVM_DEVICE || KVM_DEVICE;
}

export class Kvm {
  private constructor(
    readonly fd: number,
    readonly path: string,
  ) {}

  /** Opens /dev/kvm (see kvmDevicePath) and checks the API version; throws a KvmError that says how to get access. */
  static open(path = kvmDevicePath()): Kvm {
    const fd = libc.open(path, libc.O_RDWR | libc.O_CLOEXEC);
    if (fd < 0) throw openError(path, libc.errno());
    const kvm = new Kvm(fd, path);
    const version = kvm.getApiVersion();
    if (version !== KVM_API_VERSION) {
      kvm.close();
      throw new KvmError(
        `${path} speaks KVM API version ${version}, but tsvisor needs version ${KVM_API_VERSION} (KVM_GET_API_VERSION). Every Linux since 2.6.22 reports 12: is ${path} really the KVM device?`,
      );
    }
    return kvm;
  }

  getApiVersion(): number {
    return checked(libc.ioctlValue(this.fd, KVM_GET_API_VERSION, 0), KVM_GET_API_VERSION);
  }

  checkExtension(capability: number): number {
    return checked(libc.ioctlValue(this.fd, KVM_CHECK_EXTENSION, capability), KVM_CHECK_EXTENSION);
  }

  /** Throws one KvmError that lists every missing capability, a line each, with why tsvisor needs it. */
  requireCapabilities(required: readonly Capability[] = REQUIRED_CAPABILITIES): void {
    const missing = required.filter((capability) => this.checkExtension(capability.cap) <= 0);
    if (missing.length === 0) return;
    const lines = missing.map((capability) => `  - ${capability.name}: ${capability.why}.`);
    throw new KvmError(
      `This host's KVM (${this.path}) lacks ${missing.length === 1 ? 'a capability' : 'capabilities'} tsvisor needs:\n${lines.join('\n')}\nRun tsvisor on a newer kernel (Linux 5.10 or later has them all).`,
    );
  }

  getVcpuMmapSize(): number {
    return checked(libc.ioctlValue(this.fd, KVM_GET_VCPU_MMAP_SIZE, 0), KVM_GET_VCPU_MMAP_SIZE);
  }

  getSupportedCpuid(): KvmCpuidEntry2[] {
    return ioctlReadCpuid2(this.fd, KVM_GET_SUPPORTED_CPUID);
  }

  createVm(): Vm {
    const fd = checked(libc.ioctlValue(this.fd, KVM_CREATE_VM, 0), KVM_CREATE_VM);
    return new Vm(this, fd);
  }

  close(): void {
    libc.close(this.fd);
  }
}

function openError(path: string, errno: number): KvmError {
  const what = `Cannot open ${path}: ${describeErrno(errno)}.`;
  switch (errno) {
    case Errno.ENOENT:
    case Errno.ENXIO:
    case Errno.ENODEV:
      return new KvmError(
        `${what} This host has no usable KVM. Enable virtualization (VT-x / AMD-V) in the firmware and load the module (modprobe kvm_intel or kvm_amd), or run tsvisor on a machine that has /dev/kvm.`,
        ExitStatus.badInput,
      );
    case Errno.EACCES:
    case Errno.EPERM:
      return new KvmError(
        `${what} This user may not use KVM: add it to the group that owns ${path} (often \`kvm\`: sudo usermod -aG kvm $USER, then log in again), or run tsvisor as root.`,
        ExitStatus.badInput,
      );
    default:
      return new KvmError(`${what} Check that ${path} is the KVM device.`, ExitStatus.badInput);
  }
}
