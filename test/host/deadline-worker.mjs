// A vCPU thread for the deadline-timer test: a guest that spins, its immediate_exit byte
// named to the shim, and the thread's deadline timer armed 20 ms ahead. KVM_RUN must return
// at the deadline with the byte set.
import { parentPort } from 'node:worker_threads';
import * as kvm from '../../dist/kvm/index.js';
import { monotonicNanos } from '../../dist/host/clock.js';
import { spinningVcpu } from './spinning-vcpu.mjs';

const { shim, vcpu, close } = spinningVcpu();
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
close();
