import { describe, expect, it } from 'vitest';
import { CPUID_1_ECX_HYPERVISOR, CPUID_1_ECX_X2APIC, vcpuCpuid } from '../../src/boot/cpuid.js';
import type { KvmCpuidEntry2 } from '../../src/kvm/index.js';

const entry = (fn: number, index: number, registers: Partial<KvmCpuidEntry2> = {}): KvmCpuidEntry2 => ({
  function: fn, index, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0], ...registers,
});

describe('vcpuCpuid', () => {
  const supported = [
    entry(0, 0, { eax: 0x1f, ebx: 0x756e6547 }),
    entry(1, 0, { ebx: 0xff00_0800, ecx: CPUID_1_ECX_X2APIC | 0x1 }),
    entry(0xb, 0, { edx: 0x55 }),
    entry(0xb, 1, { edx: 0x55 }),
  ];

  it('puts the APIC ID in leaf 1 EBX[31:24] and in EDX of leaf 0xB', () => {
    const cpuid = vcpuCpuid(supported, 3);
    expect(cpuid[1]?.ebx).toBe(0x0300_0800);
    expect(cpuid.filter((e) => e.function === 0xb).map((e) => e.edx)).toEqual([3, 3]);
  });

  it('never advertises x2APIC, and says a hypervisor is present', () => {
    const leaf1 = vcpuCpuid(supported, 0)[1] as KvmCpuidEntry2;
    expect(leaf1.ecx & CPUID_1_ECX_X2APIC).toBe(0);
    expect(leaf1.ecx & CPUID_1_ECX_HYPERVISOR).not.toBe(0);
    expect(leaf1.ecx & 0x1).toBe(1);
  });

  it('leaves other leaves and the supported list itself untouched', () => {
    const cpuid = vcpuCpuid(supported, 1);
    expect(cpuid[0]).toEqual(supported[0]);
    expect(supported[1]?.ebx).toBe(0xff00_0800);
  });
});
