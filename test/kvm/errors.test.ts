import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { KvmIoctlError } from '../../src/kvm/errors.js';
import { KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION } from '../../src/kvm/ioctls.js';

describe('KvmIoctlError', () => {
  it('names the ioctl, the errno and its meaning, and a hint', () => {
    const error = KvmIoctlError.fromRequest(KVM_CREATE_VM, constants.errno.EACCES);
    expect(error.message).toBe(
      'KVM_CREATE_VM failed: EACCES (permission denied): can this user open /dev/kvm read-write? Add the user to the group that owns /dev/kvm (often `kvm`: sudo usermod -aG kvm $USER, then log in again) or run as root.',
    );
    expect(error.exitStatus).toBe(2);
  });

  it('adds the context, and a hint specific to the ioctl', () => {
    const error = KvmIoctlError.fromRequest(KVM_SET_USER_MEMORY_REGION, constants.errno.EEXIST, 'slot 1, guest 0x1000, 4096 bytes');
    expect(error.message).toBe(
      'KVM_SET_USER_MEMORY_REGION failed (slot 1, guest 0x1000, 4096 bytes): EEXIST (file already exists): the region overlaps another memory slot.',
    );
  });

  it('names an unknown request by number and ends plainly without a hint', () => {
    expect(KvmIoctlError.fromRequest(0x1234, constants.errno.EIO).message).toBe('ioctl 0x1234 failed: EIO (i/o error).');
  });
});
