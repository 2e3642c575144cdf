/** Errors from the KVM layer, each naming the ioctl, the errno in words and, where one helps, a fix. */
import { ExitStatus, TsvisorError } from '../errors.js';
import { Errno, describeErrno } from '../host/errno.js';
import { IOCTL_NAMES } from './ioctls.js';

const ACCESS_HINT =
  'can this user open /dev/kvm read-write? Add the user to the group that owns /dev/kvm (often `kvm`: sudo usermod -aG kvm $USER, then log in again) or run as root';

/** Hints for an ioctl's errno, keyed "IOCTL:ERRNO", with "*:ERRNO" as the fallback. */
const HINTS: ReadonlyMap<string, string> = new Map([
  ['*:EACCES', ACCESS_HINT],
  ['*:EPERM', ACCESS_HINT],
  ['*:ENOTTY', 'this kernel\'s KVM does not know this ioctl; it may be too old for tsvisor (Linux 5.10 or newer is expected)'],
  ['KVM_CREATE_VM:ENOMEM', 'the host is out of memory, or the KVM module cannot allocate a VM'],
  ['KVM_CREATE_VM:EINVAL', 'the KVM module refused the VM type; is another hypervisor holding the virtualization extensions?'],
  ['KVM_SET_USER_MEMORY_REGION:EINVAL', 'a memory region must start and end on a 4 KiB page boundary and fit the host\'s guest-physical address width'],
  ['KVM_SET_USER_MEMORY_REGION:EEXIST', 'the region overlaps another memory slot'],
  ['KVM_CREATE_VCPU:EINVAL', 'the vCPU id is above what this host\'s KVM supports (KVM_CAP_MAX_VCPU_ID)'],
  ['KVM_CREATE_VCPU:EEXIST', 'a vCPU with this id exists already'],
  ['KVM_SET_SREGS:EINVAL', 'the segment or control-register state is not valid for this CPU (for example EFER.LME without long mode in CPUID)'],
  ['KVM_SET_CPUID2:E2BIG', 'too many CPUID entries (KVM takes at most 256)'],
  ['KVM_RUN:EFAULT', 'KVM could not access the host memory behind the guest\'s RAM'],
]);

export class KvmError extends TsvisorError {
  override name = 'KvmError';
}

/** A failed ioctl: "KVM_CREATE_VM failed: EACCES (permission denied): can this user open /dev/kvm read-write?" */
export class KvmIoctlError extends KvmError {
  override name = 'KvmIoctlError';
  constructor(
    readonly ioctl: string,
    readonly errno: number,
    context?: string,
  ) {
    const errnoName = describeErrno(errno).split(' ')[0] ?? '';
    const hint = HINTS.get(`${ioctl}:${errnoName}`) ?? HINTS.get(`*:${errnoName}`);
    const where = context ? ` (${context})` : '';
    super(
      `${ioctl} failed${where}: ${describeErrno(errno)}${hint ? `: ${hint}` : ''}.`,
      errno === Errno.EACCES || errno === Errno.EPERM ? ExitStatus.badInput : ExitStatus.internal,
    );
  }

  static fromRequest(request: number, errno: number, context?: string): KvmIoctlError {
    return new KvmIoctlError(IOCTL_NAMES.get(request) ?? `ioctl 0x${request.toString(16)}`, errno, context);
  }
}
