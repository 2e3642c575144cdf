// A one-vCPU VM whose real-mode guest spins (jmp $ at 0x8000), for the shim tests' worker
// threads, with the kick handler installed. Built from the compiled dist/.
import * as kvm from '../../dist/kvm/index.js';
import { GuestMemory } from '../../dist/memory/guest-memory.js';
import { nativeShim } from '../../dist/host/shim.js';

export function spinningVcpu() {
  const shim = nativeShim();
  shim.installKickHandler();
  const system = kvm.Kvm.open();
  const memory = GuestMemory.allocate([{ gpa: 0, size: 0x10000 }]);
  const vm = system.createVm();
  vm.setTssAddr(0xfffbd000);
  memory.registerWith(vm);
  memory.write(0x8000, Uint8Array.from([0xeb, 0xfe])); // jmp $
  const vcpu = vm.createVcpu(0);
  const sregs = vcpu.getSregs();
  vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, selector: 0, base: 0n } });
  vcpu.setRegs({ ...vcpu.getRegs(), rip: 0x8000n, rflags: 2n });
  return {
    shim,
    vcpu,
    close() {
      vcpu.close();
      vm.close();
      system.close();
      memory.release();
    },
  };
}
