/** The KVM layer against the real /dev/kvm: system, VM and vCPU ioctls on a tiny real-mode guest. */
import { afterEach, describe, expect, it } from 'vitest';
import * as kvm from '../../src/kvm/index.js';
import { GuestMemory } from '../../src/memory/guest-memory.js';
import { describeKvm } from '../helpers/kvm.js';

describe('Kvm.open errors', () => {
  it('says how to get KVM when the device does not exist', () => {
    expect(() => kvm.Kvm.open('/nonexistent/kvm')).toThrow(
      'Cannot open /nonexistent/kvm: ENOENT (no such file or directory). This host has no usable KVM. Enable virtualization (VT-x / AMD-V) in the firmware and load the module (modprobe kvm_intel or kvm_amd), or run tsvisor on a machine that has /dev/kvm.',
    );
  });

  it('names the ioctl when the device is not KVM', () => {
    expect(() => kvm.Kvm.open('/dev/null')).toThrow(/^KVM_GET_API_VERSION failed: ENOTTY \(inappropriate ioctl for device\)/);
  });
});

describeKvm('KVM on this host', () => {
  const opened: { close(): void }[] = [];
  afterEach(() => opened.splice(0).reverse().forEach((handle) => handle.close()));

  function open() {
    const system = kvm.Kvm.open();
    opened.push(system);
    return system;
  }

  /** A VM with 64 KiB of RAM holding `code` at 0x8000 and vCPU 0 about to run it in real mode. */
  function realModeGuest(code: number[]) {
    const system = open();
    const memory = GuestMemory.allocate([{ gpa: 0, size: 0x10000 }]);
    opened.push({ close: () => memory.release() }); // released after the VM is closed
    const vm = system.createVm();
    opened.push(vm);
    vm.setTssAddr(0xfffbd000);
    memory.registerWith(vm);
    memory.write(0x8000, Uint8Array.from(code));
    const vcpu = vm.createVcpu(0);
    opened.push(vcpu);
    const sregs = vcpu.getSregs();
    vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, selector: 0, base: 0n } });
    vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x8000n, rflags: 2n });
    return { system, vm, vcpu, memory };
  }

  it('speaks API version 12 and has every capability tsvisor needs', () => {
    const system = open();
    expect(system.getApiVersion()).toBe(kvm.KVM_API_VERSION);
    expect(() => system.requireCapabilities()).not.toThrow();
    expect(system.getVcpuMmapSize()).toBeGreaterThanOrEqual(4096);
  });

  it('lists each missing capability on its own line, with why it is needed', () => {
    const system = open();
    const fake = [
      { cap: 100_000, name: 'KVM_CAP_FAKE_ONE', why: 'a test needs it' },
      { cap: 100_001, name: 'KVM_CAP_FAKE_TWO', why: 'so does this one' },
    ];
    expect(() => system.requireCapabilities(fake)).toThrow(
      "This host's KVM (/dev/kvm) lacks capabilities tsvisor needs:\n  - KVM_CAP_FAKE_ONE: a test needs it.\n  - KVM_CAP_FAKE_TWO: so does this one.\nRun tsvisor on a newer kernel (Linux 5.10 or later has them all).",
    );
  });

  it('reports the supported CPUID leaves', () => {
    const leaves = open().getSupportedCpuid();
    expect(leaves.some((leaf) => leaf.function === 0)).toBe(true);
    expect(leaves.some((leaf) => leaf.function === 1)).toBe(true);
  });

  it('runs a real-mode guest: an OUT exit with its port, size and data, then HLT', () => {
    const { vcpu } = realModeGuest([0xb0, 0x41, 0xe6, 0x10, 0xf4]); // mov al, 0x41; out 0x10, al; hlt
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_IO);
    const run = vcpu.kvmRun;
    expect([run.ioDirection, run.ioSize, run.ioPort, run.ioCount]).toEqual([kvm.KVM_EXIT_IO_OUT, 1, 0x10, 1]);
    expect(run.bytes[run.ioDataOffset]).toBe(0x41);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT);
    expect(vcpu.getRegs().rip).toBe(0x8005n);
  });

  it('reports an MMIO exit with its address, length and data', () => {
    // mov ax, 0xd000; mov ds, ax; mov word [0x10], 0xbeef; hlt  -> a 2-byte write at 0xd0010 (no RAM there)
    const { vcpu } = realModeGuest([0xb8, 0x00, 0xd0, 0x8e, 0xd8, 0xc7, 0x06, 0x10, 0x00, 0xef, 0xbe, 0xf4]);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_MMIO);
    const run = vcpu.kvmRun;
    expect([run.mmioPhysAddr, run.mmioLen, run.mmioIsWrite]).toEqual([0xd0010, 2, true]);
    expect(Array.from(run.mmioData(2))).toEqual([0xef, 0xbe]);
  });

  it('returns KVM_EXIT_INTR at once when immediate_exit is set', () => {
    const { vcpu } = realModeGuest([0xeb, 0xfe]); // jmp $
    vcpu.kvmRun.immediateExit = true;
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_INTR);
    expect(vcpu.kvmRun.immediateExit).toBe(true);
  });

  it('round-trips registers, segment registers, MSRs and the MP state', () => {
    const { vcpu } = realModeGuest([0xf4]);
    vcpu.setRegs({ ...vcpu.getRegs(), rax: 0x1122334455667788n, r15: 42n });
    expect(vcpu.getRegs()).toMatchObject({ rax: 0x1122334455667788n, r15: 42n, rip: 0x8000n });
    const sregs = vcpu.getSregs();
    vcpu.setSregs({ ...sregs, ds: { ...sregs.ds, selector: 0x1234, base: 0x12340n } });
    expect(vcpu.getSregs().ds).toMatchObject({ selector: 0x1234, base: 0x12340n });
    const IA32_SYSENTER_CS = 0x174;
    vcpu.setMsrs([{ index: IA32_SYSENTER_CS, data: 0x10n }]);
    expect(vcpu.getMsrs([IA32_SYSENTER_CS]).get(IA32_SYSENTER_CS)).toBe(0x10n);
    expect(vcpu.getMpState()).toBe(kvm.KVM_MP_STATE_RUNNABLE);
  });

  it('injects an external interrupt with KVM_INTERRUPT once the guest can take it', () => {
    // 0x8000: sti; hlt; hlt    0x9000: out 0x11, al; hlt    IVT[0x20] (at 0x80) = 0000:9000
    const { vcpu, memory } = realModeGuest([0xfb, 0xf4, 0xf4]);
    memory.write(0x9000, Uint8Array.from([0xe6, 0x11, 0xf4]));
    memory.write32(0x20 * 4, 0x0000_9000);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_HLT);
    expect(vcpu.kvmRun.ifFlag).toBe(true);
    expect(vcpu.kvmRun.readyForInterruptInjection).toBe(true);
    vcpu.interrupt(0x20);
    expect(vcpu.run()).toBe(kvm.KVM_EXIT_IO);
    expect(vcpu.kvmRun.ioPort).toBe(0x11);
  });

  it('reports the TSC frequency and enables a VM capability', () => {
    const { vm, vcpu } = realModeGuest([0xf4]);
    expect(vcpu.getTscKhz()).toBeGreaterThan(100_000);
    expect(() => vm.enableCap({ cap: kvm.KVM_CAP_X86_USER_SPACE_MSR, args: [BigInt(kvm.KVM_MSR_EXIT_REASON_FILTER), 0n, 0n, 0n] })).not.toThrow();
  });

  it('translates a linear address (identity with paging off)', () => {
    const { vcpu } = realModeGuest([0xf4]);
    expect(vcpu.translate(0x8000n)).toEqual({ physicalAddress: 0x8000n, valid: true });
  });

  it('names the ioctl and the vCPU when one fails', () => {
    const { vm } = realModeGuest([0xf4]);
    expect(() => vm.createVcpu(0)).toThrow(/^KVM_CREATE_VCPU failed \(vCPU 0\): EEXIST \(file already exists\): a vCPU with this id exists already\.$/);
  });
});
