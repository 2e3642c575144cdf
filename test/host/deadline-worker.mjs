// A vCPU thread for the deadline-timer test: a real-mode guest that spins (jmp $), its
// immediate_exit byte named to the shim, and the thread's deadline timer armed 20 ms ahead.
// KVM_RUN must return at the deadline with the byte set. Runs the compiled dist/.
import { parentPort } from 'node:worker_threads';
import * as kvm from '../../dist/kvm/index.js';
import { GuestMemory } from '../../dist/memory/guest-memory.js';
import { nativeShim } from '../../dist/host/shim.js';
import { monotonicNanos } from '../../dist/host/clock.js';

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

shim.setImmediateExitByte(vcpu.runMapping.address + BigInt(kvm.KVM_RUN_IMMEDIATE_EXIT_OFFSET));
const deadline = monotonicNanos() + 20e6;
shim.armDeadlineTimer(deadline);
const reason = vcpu.run();
const returned = monotonicNanos();
const immediateExit = vcpu.kvmRun.immediateExit;
// A deadline already past fires at once: the byte is set again before the next KVM_RUN.
vcpu.kvmRun.immediateExit = false;
shim.armDeadlineTimer(monotonicNanos() - 1e6);
while (!vcpu.kvmRun.immediateExit) { /* the signal lands on this thread */ }
const secondReason = vcpu.run();
shim.releaseThread();
parentPort.postMessage({ reason, earlyNs: deadline - returned, immediateExit, secondReason });
vcpu.close();
vm.close();
system.close();
memory.release();
