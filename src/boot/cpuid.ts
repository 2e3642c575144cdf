/**
 * The CPUID a vCPU sees: what KVM supports (KVM_GET_SUPPORTED_CPUID), adjusted for
 * tsvisor's platform (Intel SDM vol. 2A, "CPUID"), with a record of every change so that
 * `tsvisor check` can show them:
 *   - leaf 1 EBX[31:24] and leaves 0xB / 0x1F EDX: this vCPU's (x2)APIC ID;
 *   - leaf 1 ECX[21] (x2APIC) clear: KVM never routes the x2APIC MSRs to a userspace APIC;
 *   - leaf 1 ECX[24] (TSC-deadline) set: tsvisor's LAPIC timer offers it, through the
 *     IA32_TSC_DEADLINE MSR that the MSR filter routes to userspace;
 *   - leaf 1 ECX[31] set, and leaf 0x40000000 with tsvisor's signature: a hypervisor is
 *     present, and it is not KVM's paravirtual interface (its 0x40000001 leaf is removed);
 *   - leaves 0x15 and 0x16: the TSC frequency from KVM_GET_TSC_KHZ (ArceOS reads 0x16), and
 *     a 1000 MHz bus (reference) frequency, the LAPIC timer's;
 *   - last, the config's CPU features (cpu-features.ts): each one turned off is cleared, each
 *     one asked for is set where KVM supports it.
 */
import type { KvmCpuidEntry2 } from '../kvm/index.js';
import { CPU_FEATURES, type CpuFeatureSetting } from './cpu-features.js';

export const CPUID_1_ECX_X2APIC = 1 << 21;
export const CPUID_1_ECX_TSC_DEADLINE = 1 << 24;
export const CPUID_1_ECX_HYPERVISOR = 1 << 31;
export const HYPERVISOR_LEAF = 0x4000_0000;
/** "tsvisor" and five NUL bytes, as EBX, ECX, EDX. */
export const HYPERVISOR_SIGNATURE = 'tsvisor\0\0\0\0\0';
/** The LAPIC timer's base frequency, reported as the bus frequency in leaf 0x16 ECX. */
export const BUS_FREQUENCY_MHZ = 1000;
/** Leaf 0x15's crystal: 1 MHz, so that EBX / EAX can say the TSC frequency exactly without overflow. */
const CRYSTAL_HZ = 1_000_000;

type Register = 'eax' | 'ebx' | 'ecx' | 'edx';

export interface CpuidChange {
  readonly leaf: number;
  readonly index: number;
  /** The register changed, or 'leaf' when the whole leaf was added or removed. */
  readonly register: Register | 'leaf';
  readonly before: number | undefined;
  readonly after: number | undefined;
  readonly why: string;
}

export interface VcpuCpuid {
  readonly entries: KvmCpuidEntry2[];
  readonly changes: CpuidChange[];
}

export function vcpuCpuid(
  supported: readonly KvmCpuidEntry2[],
  options: { apicId: number; tscKhz: number; features?: readonly CpuFeatureSetting[] },
): VcpuCpuid {
  const entries = supported.map((entry) => ({ ...entry, padding: [...entry.padding] }));
  const changes: CpuidChange[] = [];
  const find = (leaf: number, index = 0) => entries.find((entry) => entry.function === leaf && entry.index === index);
  const leafOf = (leaf: number, index = 0) => {
    const existing = find(leaf, index);
    if (existing) return existing;
    const added: KvmCpuidEntry2 = { function: leaf, index, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0] };
    entries.push(added);
    changes.push({ leaf, index, register: 'leaf', before: undefined, after: 0, why: 'added' });
    return added;
  };
  const set = (entry: KvmCpuidEntry2, register: Register, value: number, why: string) => {
    const after = value >>> 0;
    if (entry[register] === after) return;
    changes.push({ leaf: entry.function, index: entry.index, register, before: entry[register], after, why });
    entry[register] = after;
  };

  const basic = leafOf(0);
  if (basic.eax < 0x16) set(basic, 'eax', 0x16, 'the highest basic leaf reaches 0x16, which reports the TSC frequency');
  const features = leafOf(1);
  set(features, 'ebx', (features.ebx & 0x00ff_ffff) | (options.apicId << 24), 'EBX[31:24]: this vCPU\'s initial APIC ID');
  set(features, 'ecx', features.ecx & ~CPUID_1_ECX_X2APIC, 'x2APIC off: KVM never routes the x2APIC MSRs to a userspace LAPIC, so tsvisor\'s is xAPIC only');
  set(features, 'ecx', features.ecx | CPUID_1_ECX_TSC_DEADLINE, 'TSC-deadline on: tsvisor\'s LAPIC timer serves IA32_TSC_DEADLINE');
  set(features, 'ecx', features.ecx | CPUID_1_ECX_HYPERVISOR, 'a hypervisor is present');
  for (const leaf of [0xb, 0x1f]) {
    for (const entry of entries.filter((candidate) => candidate.function === leaf)) set(entry, 'edx', options.apicId, 'this vCPU\'s x2APIC ID');
  }

  const tscMhz = Math.floor(options.tscKhz / 1000);
  const tsc = leafOf(0x15);
  set(tsc, 'eax', 1000, 'TSC / crystal ratio denominator');
  set(tsc, 'ebx', options.tscKhz, `TSC / crystal ratio numerator: ${options.tscKhz} kHz from KVM_GET_TSC_KHZ`);
  set(tsc, 'ecx', CRYSTAL_HZ, 'a 1 MHz crystal, so the ratio gives the TSC frequency exactly');
  const frequency = leafOf(0x16);
  set(frequency, 'eax', tscMhz, 'base frequency in MHz: the TSC frequency (ArceOS reads it)');
  set(frequency, 'ebx', tscMhz, 'maximum frequency in MHz');
  set(frequency, 'ecx', BUS_FREQUENCY_MHZ, 'bus (reference) frequency in MHz: the LAPIC timer\'s 1 GHz');

  const signature = new DataView(new TextEncoder().encode(HYPERVISOR_SIGNATURE).buffer);
  const hypervisor = leafOf(HYPERVISOR_LEAF);
  set(hypervisor, 'eax', HYPERVISOR_LEAF, 'the highest hypervisor leaf');
  set(hypervisor, 'ebx', signature.getUint32(0, true), 'the signature "tsvisor"');
  set(hypervisor, 'ecx', signature.getUint32(4, true), 'the signature "tsvisor"');
  set(hypervisor, 'edx', signature.getUint32(8, true), 'the signature "tsvisor"');
  for (let i = entries.length - 1; i >= 0; i--) {
    const entry = entries[i] as KvmCpuidEntry2;
    if (entry.function > HYPERVISOR_LEAF && entry.function < HYPERVISOR_LEAF + 0x100) {
      changes.push({ leaf: entry.function, index: entry.index, register: 'leaf', before: undefined, after: undefined, why: 'removed: KVM\'s paravirtual interface is not offered' });
      entries.splice(i, 1);
    }
  }

  for (const { name, enabled } of options.features ?? []) {
    // KVM's paravirtual features have no bit here: tsvisor offers none of them.
    const feature = CPU_FEATURES.get(name);
    const entry = feature && find(feature.leaf, feature.index);
    if (!feature || !entry) continue;
    const mask = 1 << feature.bit;
    const kvmSupports = supported.some((kvm) => kvm.function === feature.leaf && kvm.index === feature.index && kvm[feature.register] & mask);
    if (!enabled) set(entry, feature.register, entry[feature.register] & ~mask, `-${name}: turned off by the config`);
    else if (kvmSupports) set(entry, feature.register, entry[feature.register] | mask, `+${name}: asked for by the config`);
  }
  return { entries, changes };
}
