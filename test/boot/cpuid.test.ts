/** The CPUID a vCPU sees, leaf by leaf, and the record of what tsvisor changed. */
import { describe, expect, it } from 'vitest';
import {
  BUS_FREQUENCY_MHZ, CPUID_1_ECX_HYPERVISOR, CPUID_1_ECX_TSC_DEADLINE, CPUID_1_ECX_X2APIC, HYPERVISOR_LEAF, vcpuCpuid,
} from '../../src/boot/cpuid.js';
import type { KvmCpuidEntry2 } from '../../src/kvm/index.js';

const entry = (fn: number, index: number, registers: Partial<KvmCpuidEntry2> = {}): KvmCpuidEntry2 => ({
  function: fn, index, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0, padding: [0, 0, 0], ...registers,
});

const SUPPORTED = [
  entry(0, 0, { eax: 0xd, ebx: 0x756e6547 }),
  entry(1, 0, { ebx: 0xff00_0800, ecx: CPUID_1_ECX_X2APIC | CPUID_1_ECX_TSC_DEADLINE | 0x1 }),
  entry(0xb, 0, { edx: 0x55 }),
  entry(0xb, 1, { edx: 0x55 }),
  entry(HYPERVISOR_LEAF, 0, { eax: 0x40000001, ebx: 0x4b4d564b }),
  entry(HYPERVISOR_LEAF + 1, 0, { eax: 0x1234 }),
];
const TSC_KHZ = 2_596_142;

const leaf = (entries: readonly KvmCpuidEntry2[], fn: number, index = 0) => entries.find((e) => e.function === fn && e.index === index);

describe('vcpuCpuid', () => {
  it('puts the APIC ID in leaf 1 EBX[31:24] and in EDX of every leaf 0xB subleaf', () => {
    const { entries } = vcpuCpuid(SUPPORTED, { apicId: 3, tscKhz: TSC_KHZ });
    expect(leaf(entries, 1)?.ebx).toBe(0x0300_0800);
    expect(entries.filter((e) => e.function === 0xb).map((e) => e.edx)).toEqual([3, 3]);
  });

  it('never advertises x2APIC, offers the TSC-deadline timer, and says a hypervisor is present', () => {
    const ecx = leaf(vcpuCpuid(SUPPORTED, { apicId: 0, tscKhz: TSC_KHZ }).entries, 1)?.ecx as number;
    expect(ecx & CPUID_1_ECX_X2APIC).toBe(0);
    expect(ecx & CPUID_1_ECX_TSC_DEADLINE).toBe(CPUID_1_ECX_TSC_DEADLINE);
    expect(ecx & CPUID_1_ECX_HYPERVISOR).not.toBe(0);
    expect(ecx & 0x1).toBe(1);
  });

  it('reports the TSC frequency in leaves 0x15 and 0x16, raising the highest basic leaf to reach them', () => {
    const { entries } = vcpuCpuid(SUPPORTED, { apicId: 0, tscKhz: TSC_KHZ });
    expect(leaf(entries, 0)?.eax).toBe(0x16);
    const tsc = leaf(entries, 0x15) as KvmCpuidEntry2;
    expect((tsc.ecx * tsc.ebx) / tsc.eax).toBe(TSC_KHZ * 1000); // crystal Hz * ratio = TSC Hz
    expect(leaf(entries, 0x16)).toMatchObject({ eax: 2596, ebx: 2596, ecx: BUS_FREQUENCY_MHZ });
  });

  it('signs leaf 0x40000000 as tsvisor and removes KVM\'s paravirtual leaves', () => {
    const { entries } = vcpuCpuid(SUPPORTED, { apicId: 0, tscKhz: TSC_KHZ });
    const signature = leaf(entries, HYPERVISOR_LEAF) as KvmCpuidEntry2;
    const bytes = new Uint8Array(new Uint32Array([signature.ebx, signature.ecx, signature.edx]).buffer);
    expect(new TextDecoder().decode(bytes)).toBe('tsvisor\0\0\0\0\0');
    expect(signature.eax).toBe(HYPERVISOR_LEAF);
    expect(leaf(entries, HYPERVISOR_LEAF + 1)).toBeUndefined();
  });

  it('records every change with its reason, and leaves the supported list untouched', () => {
    const { changes } = vcpuCpuid(SUPPORTED, { apicId: 0, tscKhz: TSC_KHZ });
    expect(changes).toContainEqual({ leaf: 1, index: 0, register: 'ebx', before: 0xff00_0800, after: 0x0000_0800, why: 'EBX[31:24]: this vCPU\'s initial APIC ID' });
    expect(changes).toContainEqual({ leaf: 0x15, index: 0, register: 'leaf', before: undefined, after: 0, why: 'added' });
    expect(changes).toContainEqual({ leaf: HYPERVISOR_LEAF + 1, index: 0, register: 'leaf', before: undefined, after: undefined, why: 'removed: KVM\'s paravirtual interface is not offered' });
    expect(SUPPORTED[1]?.ebx).toBe(0xff00_0800);
    expect(SUPPORTED).toHaveLength(6);
  });
});

describe('vcpuCpuid with the config\'s CPU features (QEMU\'s -cpu host,+feat,-feat)', () => {
  const AVX = 1 << 28;
  const SSE3 = 1 << 0;
  const withAvx = [...SUPPORTED.filter((e) => e.function !== 1), entry(1, 0, { ecx: AVX | SSE3 })];

  it('clears a feature turned off, tsvisor\'s own ones included, and records why', () => {
    const { entries, changes } = vcpuCpuid(withAvx, { apicId: 0, tscKhz: TSC_KHZ, features: [{ name: 'avx', enabled: false }, { name: 'tsc-deadline', enabled: false }] });
    const ecx = leaf(entries, 1)?.ecx as number;
    expect(ecx & AVX).toBe(0);
    expect(ecx & CPUID_1_ECX_TSC_DEADLINE).toBe(0);
    expect(ecx & SSE3).toBe(SSE3);
    expect(changes.filter((change) => change.why.startsWith('-')).map((change) => change.why)).toEqual([
      '-avx: turned off by the config', '-tsc-deadline: turned off by the config',
    ]);
  });

  it('sets a feature asked for only where KVM supports it', () => {
    const { entries } = vcpuCpuid(withAvx, { apicId: 0, tscKhz: TSC_KHZ, features: [{ name: 'pni', enabled: true }, { name: 'f16c', enabled: true }] });
    const ecx = leaf(entries, 1)?.ecx as number;
    expect(ecx & SSE3).toBe(SSE3);
    expect(ecx & (1 << 29)).toBe(0);
  });

  it('takes KVM\'s paravirtual features (no bit here) and features of leaves KVM lacks without change', () => {
    const plain = vcpuCpuid(withAvx, { apicId: 0, tscKhz: TSC_KHZ });
    const { entries } = vcpuCpuid(withAvx, { apicId: 0, tscKhz: TSC_KHZ, features: [{ name: 'kvmclock', enabled: false }, { name: 'avx2', enabled: false }] });
    expect(entries).toEqual(plain.entries);
  });
});
