/** A KVM virtual machine: the VM file descriptor and its ioctls. */
import { hex } from '../errors.js';
import * as libc from '../host/libc.js';
import { checked, ioctlWrite } from './ioctl.js';
import { u64 } from './layout.js';
import {
  KVM_CREATE_VCPU,
  KVM_ENABLE_CAP,
  KVM_SET_IDENTITY_MAP_ADDR,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION,
  KVM_X86_SET_MSR_FILTER,
} from './ioctls.js';
import { KVM_MSR_FILTER_DEFAULT_ALLOW, KVM_MSR_FILTER_MAX_RANGES, KVM_MSR_FILTER_READ, KVM_MSR_FILTER_WRITE } from './constants.js';
import { KvmError } from './errors.js';
import type { Kvm } from './kvm.js';
import { kvm_enable_cap, kvm_msr_filter, kvm_userspace_memory_region, type KvmEnableCap, type KvmUserspaceMemoryRegion } from './structs.js';
import { Vcpu } from './vcpu.js';

export class Vm {
  constructor(
    readonly kvm: Kvm,
    readonly fd: number,
  ) {}

  setUserMemoryRegion(region: KvmUserspaceMemoryRegion): void {
    const context = `slot ${region.slot}, guest ${hex(region.guest_phys_addr)}, ${region.memory_size} bytes`;
    ioctlWrite(this.fd, KVM_SET_USER_MEMORY_REGION, kvm_userspace_memory_region, region, context);
  }

  /** Where KVM on Intel keeps the three-page TSS it needs to run real mode (below 4 GiB, clear of RAM and devices). */
  setTssAddr(address: number): void {
    checked(libc.ioctlValue(this.fd, KVM_SET_TSS_ADDR, address), KVM_SET_TSS_ADDR, hex(address));
  }

  /** Where KVM on Intel keeps the one-page identity page table for real mode; before any vCPU is created. */
  setIdentityMapAddr(address: number): void {
    ioctlWrite(this.fd, KVM_SET_IDENTITY_MAP_ADDR, u64, BigInt(address), hex(address));
  }

  enableCap(capability: Pick<KvmEnableCap, 'cap' | 'args'>): void {
    const value = { ...capability, flags: 0, pad: new Array<number>(64).fill(0) };
    ioctlWrite(this.fd, KVM_ENABLE_CAP, kvm_enable_cap, value, `capability ${capability.cap}`);
  }

  /**
   * KVM_X86_SET_MSR_FILTER: every other MSR stays with KVM; reads and writes of `denied`
   * are refused by the filter, which (with KVM_CAP_X86_USER_SPACE_MSR enabled for
   * KVM_MSR_EXIT_REASON_FILTER) makes them exit to userspace instead. Each MSR is a range
   * of one, its bitmap one zero bit ("deny") in a zeroed scratch page; KVM copies the
   * bitmaps during the ioctl, so the page goes right after.
   */
  denyMsrs(denied: readonly number[]): void {
    if (denied.length > KVM_MSR_FILTER_MAX_RANGES) throw new RangeError(`an MSR filter holds at most ${KVM_MSR_FILTER_MAX_RANGES} ranges`);
    const page = libc.mmap(null, 4096, libc.PROT_READ | libc.PROT_WRITE, libc.MAP_PRIVATE | libc.MAP_ANONYMOUS, -1, 0);
    if (page === libc.MAP_FAILED) throw new KvmError('Cannot map a page for the MSR filter\'s bitmap.');
    try {
      const empty = { flags: 0, nmsrs: 0, base: 0, bitmap: 0n };
      const ranges = Array.from({ length: KVM_MSR_FILTER_MAX_RANGES }, (_, i) =>
        i < denied.length ? { flags: KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, nmsrs: 1, base: denied[i] as number, bitmap: page } : empty,
      );
      const context = `MSRs ${denied.map((index) => hex(index)).join(', ')} to userspace`;
      ioctlWrite(this.fd, KVM_X86_SET_MSR_FILTER, kvm_msr_filter, { flags: KVM_MSR_FILTER_DEFAULT_ALLOW, ranges }, context);
    } finally {
      libc.munmap(page, 4096);
    }
  }

  createVcpu(id: number): Vcpu {
    const fd = checked(libc.ioctlValue(this.fd, KVM_CREATE_VCPU, id), KVM_CREATE_VCPU, `vCPU ${id}`);
    try {
      return Vcpu.map(id, fd, this.kvm.getVcpuMmapSize());
    } catch (error) {
      libc.close(fd);
      throw error;
    }
  }

  close(): void {
    libc.close(this.fd);
  }
}
