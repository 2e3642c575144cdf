/** The KVM ABI in TypeScript: import this module as `kvm` (kvm.Kvm, kvm.Vm, kvm.Vcpu, ...). */
export * from './constants.js';
export * from './errors.js';
export { cpuVendor, dropsStiShadowOnEntry, emulatedByQemu, kvmSide, loadedKvmModules, shutdownResetsVcpu, type KvmSide, type KvmVendorModule } from './host-side.js';
export { Kvm, KVM_DEVICE, kvmDevicePath } from './kvm.js';
export { KvmRun, KVM_RUN_IMMEDIATE_EXIT_OFFSET } from './kvm-run.js';
export type { KvmCpuidEntry2, KvmDebugregs, KvmRegs, KvmSegment, KvmSregs, KvmVcpuEvents, KvmXcr } from './structs.js';
export { Vcpu } from './vcpu.js';
export { Vm } from './vm.js';
