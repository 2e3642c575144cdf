/** ioctl(2) on KVM file descriptors: every failure becomes a KvmIoctlError naming the ioctl and errno. */
import * as libc from '../host/libc.js';
import { MAX_CPUID_ENTRIES } from './constants.js';
import { KvmIoctlError } from './errors.js';
import { decode, encode, type Type, type Value } from './layout.js';
import { kvm_cpuid2, kvm_cpuid_entry2, type KvmCpuidEntry2 } from './structs.js';

/** Returns `result`, or throws the KvmIoctlError for the ioctl `request` with the current errno. */
export function checked(result: number, request: number, context?: string): number {
  if (result < 0) throw KvmIoctlError.fromRequest(request, libc.errno(), context);
  return result;
}

/** An ioctl that passes a struct to the kernel (_IOW). Returns the ioctl's result. */
export function ioctlWrite<T extends Type>(fd: number, request: number, type: T, value: Value<T>, context?: string): number {
  const buffer = new Uint8Array(type.size);
  encode(type, value, new DataView(buffer.buffer));
  return checked(libc.ioctlBuffer(fd, request, buffer), request, context);
}

/** An ioctl that fills a struct (_IOR). */
export function ioctlRead<T extends Type>(fd: number, request: number, type: T, context?: string): Value<T> {
  const buffer = new Uint8Array(type.size);
  checked(libc.ioctlBuffer(fd, request, buffer), request, context);
  return decode(type, new DataView(buffer.buffer));
}

/** An ioctl that fills a struct kvm_cpuid2 (KVM_GET_SUPPORTED_CPUID, KVM_GET_CPUID2): its entries. */
export function ioctlReadCpuid2(fd: number, request: number, context?: string): KvmCpuidEntry2[] {
  const buffer = new Uint8Array(kvm_cpuid2.size + MAX_CPUID_ENTRIES * kvm_cpuid_entry2.size);
  const view = new DataView(buffer.buffer);
  view.setUint32(kvm_cpuid2.offsets.nent, MAX_CPUID_ENTRIES, true);
  checked(libc.ioctlBuffer(fd, request, buffer), request, context);
  const count = view.getUint32(kvm_cpuid2.offsets.nent, true);
  return Array.from({ length: count }, (_, i) => decode(kvm_cpuid_entry2, view, kvm_cpuid2.offsets.entries + i * kvm_cpuid_entry2.size));
}
