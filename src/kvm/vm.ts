/** A KVM virtual machine: the VM file descriptor and its ioctls. */
import { hex } from '../errors.js';
import * as libc from '../host/libc.js';
import { checked, ioctlWrite } from './ioctl.js';
import {
  KVM_CREATE_VCPU,
  KVM_ENABLE_CAP,
  KVM_SET_TSS_ADDR,
  KVM_SET_USER_MEMORY_REGION,
} from './ioctls.js';
import type { Kvm } from './kvm.js';
import { kvm_enable_cap, kvm_userspace_memory_region, type KvmEnableCap, type KvmUserspaceMemoryRegion } from './structs.js';
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

  /** Where KVM on Intel keeps the three-page TSS it needs to run real mode (must not overlap RAM). */
  setTssAddr(address: number): void {
    checked(libc.ioctlValue(this.fd, KVM_SET_TSS_ADDR, address), KVM_SET_TSS_ADDR, hex(address));
  }

  enableCap(capability: Pick<KvmEnableCap, 'cap' | 'args'>): void {
    const value = { ...capability, flags: 0, pad: new Array<number>(64).fill(0) };
    ioctlWrite(this.fd, KVM_ENABLE_CAP, kvm_enable_cap, value, `capability ${capability.cap}`);
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
