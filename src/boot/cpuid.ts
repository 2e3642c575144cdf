/**
 * The CPUID a vCPU sees: what KVM supports (KVM_GET_SUPPORTED_CPUID), adjusted for
 * tsvisor's platform (Intel SDM vol. 2A, CPUID):
 *   - leaf 1 EBX[31:24] and the x2APIC-ID leaves 0xB / 0x1F EDX: this vCPU's APIC ID;
 *   - leaf 1 ECX[21] (x2APIC) clear: KVM never routes the x2APIC MSRs to a userspace APIC;
 *   - leaf 1 ECX[31] set: a hypervisor is present.
 */
import type { KvmCpuidEntry2 } from '../kvm/index.js';

export const CPUID_FEATURES = 0x1;
export const CPUID_EXTENDED_TOPOLOGY = 0xb;
export const CPUID_V2_EXTENDED_TOPOLOGY = 0x1f;
export const CPUID_1_ECX_X2APIC = 1 << 21;
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;

export function vcpuCpuid(supported: readonly KvmCpuidEntry2[], apicId: number): KvmCpuidEntry2[] {
  return supported.map((entry) => {
    switch (entry.function) {
      case CPUID_FEATURES:
        return {
          ...entry,
          ebx: ((entry.ebx & 0x00ff_ffff) | (apicId << 24)) >>> 0,
          ecx: ((entry.ecx & ~CPUID_1_ECX_X2APIC) | CPUID_1_ECX_HYPERVISOR) >>> 0,
        };
      case CPUID_EXTENDED_TOPOLOGY:
      case CPUID_V2_EXTENDED_TOPOLOGY:
        return { ...entry, edx: apicId >>> 0 };
      default:
        return { ...entry };
    }
  });
}
