// A vCPU thread for the kick test: a guest that spins, its kernel tid reported, blocked in
// KVM_RUN until a kick makes it return.
import { parentPort } from 'node:worker_threads';
import { spinningVcpu } from './spinning-vcpu.mjs';

const { shim, vcpu, close } = spinningVcpu();
parentPort.postMessage({ tid: shim.currentThreadId() });
const started = Date.now();
const reason = vcpu.run();
parentPort.postMessage({ reason, blockedMs: Date.now() - started, rip: Number(vcpu.getRegs().rip) });
close();
