/**
 * KVM ioctl request numbers, derived as <asm-generic/ioctl.h> derives them:
 * direction (2 bits) | size (14 bits) | type (8 bits) | number (8 bits), with the sizes
 * of the structs in structs.ts. The kernel's own values are checked in the tests.
 */
import { u64, type Type } from './layout.js';
import {
  kvm_cpuid2,
  kvm_debugregs,
  kvm_enable_cap,
  kvm_interrupt,
  kvm_mp_state,
  kvm_msr_filter,
  kvm_msrs,
  kvm_regs,
  kvm_sregs,
  kvm_translation,
  kvm_userspace_memory_region,
  kvm_vcpu_events,
  kvm_xcrs,
  kvm_xsave,
} from './structs.js';

const IOC_NRSHIFT = 0;
const IOC_TYPESHIFT = 8;
const IOC_SIZESHIFT = 16;
const IOC_DIRSHIFT = 30;
const IOC_SIZEBITS = 14;

export const IOC_NONE = 0;
export const IOC_WRITE = 1;
export const IOC_READ = 2;

export function _IOC(direction: number, type: number, nr: number, size: number): number {
  if (size >= 1 << IOC_SIZEBITS) throw new RangeError(`ioctl argument size ${size} does not fit in ${IOC_SIZEBITS} bits`);
  return (
    ((direction << IOC_DIRSHIFT) | (type << IOC_TYPESHIFT) | (nr << IOC_NRSHIFT) | (size << IOC_SIZESHIFT)) >>> 0
  );
}
export const _IO = (type: number, nr: number) => _IOC(IOC_NONE, type, nr, 0);
export const _IOR = (type: number, nr: number, arg: Type) => _IOC(IOC_READ, type, nr, arg.size);
export const _IOW = (type: number, nr: number, arg: Type) => _IOC(IOC_WRITE, type, nr, arg.size);
export const _IOWR = (type: number, nr: number, arg: Type) => _IOC(IOC_READ | IOC_WRITE, type, nr, arg.size);

const KVMIO = 0xae;

// System ioctls (on the /dev/kvm fd).
export const KVM_GET_API_VERSION = _IO(KVMIO, 0x00);
export const KVM_CREATE_VM = _IO(KVMIO, 0x01);
export const KVM_CHECK_EXTENSION = _IO(KVMIO, 0x03);
export const KVM_GET_VCPU_MMAP_SIZE = _IO(KVMIO, 0x04);
export const KVM_GET_SUPPORTED_CPUID = _IOWR(KVMIO, 0x05, kvm_cpuid2);

// VM ioctls (on a VM fd).
export const KVM_CREATE_VCPU = _IO(KVMIO, 0x41);
export const KVM_SET_USER_MEMORY_REGION = _IOW(KVMIO, 0x46, kvm_userspace_memory_region);
export const KVM_SET_TSS_ADDR = _IO(KVMIO, 0x47);
export const KVM_SET_IDENTITY_MAP_ADDR = _IOW(KVMIO, 0x48, u64);
export const KVM_GET_TSC_KHZ = _IO(KVMIO, 0xa3);
export const KVM_ENABLE_CAP = _IOW(KVMIO, 0xa3, kvm_enable_cap);
export const KVM_X86_SET_MSR_FILTER = _IOW(KVMIO, 0xc6, kvm_msr_filter);

// vCPU ioctls (on a vCPU fd).
export const KVM_RUN = _IO(KVMIO, 0x80);
export const KVM_GET_REGS = _IOR(KVMIO, 0x81, kvm_regs);
export const KVM_SET_REGS = _IOW(KVMIO, 0x82, kvm_regs);
export const KVM_GET_SREGS = _IOR(KVMIO, 0x83, kvm_sregs);
export const KVM_SET_SREGS = _IOW(KVMIO, 0x84, kvm_sregs);
export const KVM_TRANSLATE = _IOWR(KVMIO, 0x85, kvm_translation);
export const KVM_INTERRUPT = _IOW(KVMIO, 0x86, kvm_interrupt);
export const KVM_GET_MSRS = _IOWR(KVMIO, 0x88, kvm_msrs);
export const KVM_SET_MSRS = _IOW(KVMIO, 0x89, kvm_msrs);
export const KVM_SET_CPUID2 = _IOW(KVMIO, 0x90, kvm_cpuid2);
export const KVM_GET_CPUID2 = _IOWR(KVMIO, 0x91, kvm_cpuid2);
export const KVM_GET_MP_STATE = _IOR(KVMIO, 0x98, kvm_mp_state);
export const KVM_SET_MP_STATE = _IOW(KVMIO, 0x99, kvm_mp_state);
export const KVM_NMI = _IO(KVMIO, 0x9a);
export const KVM_GET_VCPU_EVENTS = _IOR(KVMIO, 0x9f, kvm_vcpu_events);
export const KVM_SET_VCPU_EVENTS = _IOW(KVMIO, 0xa0, kvm_vcpu_events);
export const KVM_GET_DEBUGREGS = _IOR(KVMIO, 0xa1, kvm_debugregs);
export const KVM_SET_DEBUGREGS = _IOW(KVMIO, 0xa2, kvm_debugregs);
export const KVM_GET_XSAVE = _IOR(KVMIO, 0xa4, kvm_xsave);
export const KVM_SET_XSAVE = _IOW(KVMIO, 0xa5, kvm_xsave);
export const KVM_GET_XCRS = _IOR(KVMIO, 0xa6, kvm_xcrs);
export const KVM_SET_XCRS = _IOW(KVMIO, 0xa7, kvm_xcrs);

/** Request number -> name, for error messages. */
export const IOCTL_NAMES: ReadonlyMap<number, string> = new Map(
  Object.entries({
    KVM_GET_API_VERSION, KVM_CREATE_VM, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE, KVM_GET_SUPPORTED_CPUID,
    KVM_CREATE_VCPU, KVM_SET_USER_MEMORY_REGION, KVM_SET_TSS_ADDR, KVM_SET_IDENTITY_MAP_ADDR, KVM_GET_TSC_KHZ, KVM_X86_SET_MSR_FILTER,
    KVM_ENABLE_CAP, KVM_RUN, KVM_GET_REGS, KVM_SET_REGS, KVM_GET_SREGS, KVM_SET_SREGS, KVM_TRANSLATE,
    KVM_INTERRUPT, KVM_GET_MSRS, KVM_SET_MSRS, KVM_SET_CPUID2, KVM_GET_CPUID2, KVM_GET_MP_STATE, KVM_SET_MP_STATE,
    KVM_NMI, KVM_GET_VCPU_EVENTS, KVM_SET_VCPU_EVENTS, KVM_GET_DEBUGREGS, KVM_SET_DEBUGREGS, KVM_GET_XSAVE, KVM_SET_XSAVE,
    KVM_GET_XCRS, KVM_SET_XCRS,
  }).map(([name, request]) => [request, name]),
);
