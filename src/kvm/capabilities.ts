/** The KVM capabilities tsvisor needs, each with the reason, checked before any VM is made. */
import {
  KVM_CAP_DEBUGREGS,
  KVM_CAP_EXT_CPUID,
  KVM_CAP_GET_TSC_KHZ,
  KVM_CAP_IMMEDIATE_EXIT,
  KVM_CAP_SET_IDENTITY_MAP_ADDR,
  KVM_CAP_SET_TSS_ADDR,
  KVM_CAP_USER_MEMORY,
  KVM_CAP_VCPU_EVENTS,
  KVM_CAP_X86_MSR_FILTER,
  KVM_CAP_X86_USER_SPACE_MSR,
  KVM_CAP_XCRS,
  KVM_CAP_XSAVE,
} from './constants.js';

export interface Capability {
  readonly cap: number;
  readonly name: string;
  readonly why: string;
}

export const REQUIRED_CAPABILITIES: readonly Capability[] = [
  { cap: KVM_CAP_USER_MEMORY, name: 'KVM_CAP_USER_MEMORY', why: 'guest RAM is host memory registered with KVM_SET_USER_MEMORY_REGION' },
  { cap: KVM_CAP_SET_TSS_ADDR, name: 'KVM_CAP_SET_TSS_ADDR', why: 'guests start in real mode, which KVM on Intel runs with a TSS in guest memory, placed where no region or device is' },
  { cap: KVM_CAP_SET_IDENTITY_MAP_ADDR, name: 'KVM_CAP_SET_IDENTITY_MAP_ADDR', why: 'the identity page table KVM on Intel keeps beside that TSS is placed with it (KVM_SET_IDENTITY_MAP_ADDR)' },
  { cap: KVM_CAP_EXT_CPUID, name: 'KVM_CAP_EXT_CPUID', why: 'each vCPU\'s CPUID is built from KVM_GET_SUPPORTED_CPUID' },
  { cap: KVM_CAP_GET_TSC_KHZ, name: 'KVM_CAP_GET_TSC_KHZ', why: 'CPUID leaves 0x15 and 0x16 tell the guest its TSC frequency (KVM_GET_TSC_KHZ)' },
  { cap: KVM_CAP_IMMEDIATE_EXIT, name: 'KVM_CAP_IMMEDIATE_EXIT', why: 'a vCPU is kicked out of KVM_RUN without losing the kick (kvm_run.immediate_exit)' },
  { cap: KVM_CAP_X86_USER_SPACE_MSR, name: 'KVM_CAP_X86_USER_SPACE_MSR', why: 'the Local APIC\'s MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE) exit to tsvisor' },
  { cap: KVM_CAP_X86_MSR_FILTER, name: 'KVM_CAP_X86_MSR_FILTER', why: 'an MSR filter picks which MSR accesses exit to tsvisor' },
  // The architectural reset of a vCPU (src/boot/cpu-reset.ts), at power-on and on INIT.
  { cap: KVM_CAP_VCPU_EVENTS, name: 'KVM_CAP_VCPU_EVENTS', why: 'a reset drops the interrupt, NMI or exception a vCPU had pending (KVM_SET_VCPU_EVENTS)' },
  { cap: KVM_CAP_DEBUGREGS, name: 'KVM_CAP_DEBUGREGS', why: 'a reset sets the debug registers DR0-DR3, DR6 and DR7 (KVM_SET_DEBUGREGS)' },
  { cap: KVM_CAP_XSAVE, name: 'KVM_CAP_XSAVE', why: 'a power-on reset sets the x87, SSE and AVX state with MXCSR (KVM_SET_XSAVE: KVM_SET_FPU ignores MXCSR)' },
  { cap: KVM_CAP_XCRS, name: 'KVM_CAP_XCRS', why: 'a power-on reset sets XCR0 (KVM_SET_XCRS; KVM offers it where the host CPU has XSAVE)' },
];
