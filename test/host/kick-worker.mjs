// A vCPU thread for the kick test: builds a real-mode guest that spins (jmp $), reports its
// kernel tid, and blocks in KVM_RUN until a kick makes it return. Runs the compiled dist/.
import { parentPort } from 'node:worker_threads';
import * as kvm from '../../dist/kvm/index.js';
import { GuestMemory } from '../../dist/memory/guest-memory.js';
import { nativeShim } from '../../dist/host/shim.js';

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

parentPort.postMessage({ tid: shim.currentThreadId() });
const started = Date.now();
const reason = vcpu.run();
parentPort.postMessage({ reason, blockedMs: Date.now() - started, rip: Number(vcpu.getRegs().rip) });
vcpu.close();
vm.close();
system.close();
memory.release();
