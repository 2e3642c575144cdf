/** The KVM capabilities tsvisor needs, each with the reason, checked before any VM is made. */
import {
  KVM_CAP_EXT_CPUID,
  KVM_CAP_GET_TSC_KHZ,
  KVM_CAP_IMMEDIATE_EXIT,
  KVM_CAP_SET_TSS_ADDR,
  KVM_CAP_USER_MEMORY,
  KVM_CAP_X86_MSR_FILTER,
  KVM_CAP_X86_USER_SPACE_MSR,
} from './constants.js';

export interface Capability {
  readonly cap: number;
  readonly name: string;
  readonly why: string;
}

export const REQUIRED_CAPABILITIES: readonly Capability[] = [
  { cap: KVM_CAP_USER_MEMORY, name: 'KVM_CAP_USER_MEMORY', why: 'guest RAM is host memory registered with KVM_SET_USER_MEMORY_REGION' },
  { cap: KVM_CAP_SET_TSS_ADDR, name: 'KVM_CAP_SET_TSS_ADDR', why: 'guests start in real mode, which KVM on Intel runs with a TSS it places at a fixed address' },
  { cap: KVM_CAP_EXT_CPUID, name: 'KVM_CAP_EXT_CPUID', why: 'each vCPU\'s CPUID is built from KVM_GET_SUPPORTED_CPUID' },
  { cap: KVM_CAP_GET_TSC_KHZ, name: 'KVM_CAP_GET_TSC_KHZ', why: 'CPUID leaves 0x15 and 0x16 tell the guest its TSC frequency (KVM_GET_TSC_KHZ)' },
  { cap: KVM_CAP_IMMEDIATE_EXIT, name: 'KVM_CAP_IMMEDIATE_EXIT', why: 'a vCPU is kicked out of KVM_RUN without losing the kick (kvm_run.immediate_exit)' },
  { cap: KVM_CAP_X86_USER_SPACE_MSR, name: 'KVM_CAP_X86_USER_SPACE_MSR', why: 'the Local APIC\'s MSRs (IA32_APIC_BASE, IA32_TSC_DEADLINE) exit to tsvisor' },
  { cap: KVM_CAP_X86_MSR_FILTER, name: 'KVM_CAP_X86_MSR_FILTER', why: 'an MSR filter picks which MSR accesses exit to tsvisor' },
];
