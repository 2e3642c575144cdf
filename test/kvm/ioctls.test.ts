import { describe, expect, it } from 'vitest';
import * as ioctls from '../../src/kvm/ioctls.js';
import { kvm_regs, kvm_run, kvm_sregs } from '../../src/kvm/structs.js';

describe('ioctl numbers', () => {
  it('derive the kernel\'s known values from _IO/_IOR/_IOW/_IOWR and struct sizes', () => {
    expect(ioctls.KVM_RUN).toBe(0xae80);
    expect(ioctls.KVM_SET_USER_MEMORY_REGION).toBe(0x4020ae46);
    expect(ioctls.KVM_GET_SREGS).toBe(0x8138ae83);
    expect(ioctls.KVM_SET_REGS).toBe(0x4090ae82);
    expect(ioctls.KVM_GET_API_VERSION).toBe(0xae00);
    expect(ioctls.KVM_CREATE_VM).toBe(0xae01);
  });

  it('compose direction, size, type and number as <asm-generic/ioctl.h> does', () => {
    expect(ioctls._IOC(ioctls.IOC_READ | ioctls.IOC_WRITE, 0xae, 0x05, 8)).toBe(0xc008ae05);
    expect(() => ioctls._IOC(ioctls.IOC_READ, 0xae, 0x01, 1 << 14)).toThrow(RangeError);
  });

  it('name every request for error messages', () => {
    expect(ioctls.IOCTL_NAMES.get(0xae80)).toBe('KVM_RUN');
    expect(ioctls.IOCTL_NAMES.get(0x8138ae83)).toBe('KVM_GET_SREGS');
  });
});

describe('struct sizes', () => {
  it('match the kernel: kvm_regs 144 bytes, kvm_sregs 312, kvm_run 2352', () => {
    expect(kvm_regs.size).toBe(144);
    expect(kvm_sregs.size).toBe(312);
    expect(kvm_run.size).toBe(2352);
  });
});
