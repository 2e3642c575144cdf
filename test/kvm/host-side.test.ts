/** What tsvisor works out about the host from KVM's CPUID, its loaded modules and the host CPU's model name. */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import * as kvm from '../../src/kvm/index.js';

const leaf0 = (vendor: string): kvm.KvmCpuidEntry2 => {
  const words = new Uint32Array(new TextEncoder().encode(vendor.padEnd(12, '\0')).buffer);
  return { function: 0, index: 0, flags: 0, eax: 0xd, ebx: words[0] as number, edx: words[1] as number, ecx: words[2] as number, padding: [0, 0, 0] };
};

it('tells KVM\'s AMD side from its Intel side by the vendor in CPUID leaf 0', () => {
  expect(kvm.cpuVendor([leaf0('AuthenticAMD')])).toBe('AuthenticAMD');
  expect(kvm.kvmSide([leaf0('AuthenticAMD')])).toBe('svm');
  expect(kvm.kvmSide([leaf0('HygonGenuine')])).toBe('svm');
  expect(kvm.kvmSide([leaf0('GenuineIntel')])).toBe('vmx');
  expect(kvm.kvmSide([])).toBe('vmx');
});

it('tells PVM by its module, on either vendor\'s CPU, and keeps a guest\'s registers at a shutdown only off SVM', () => {
  expect(kvm.kvmSide([leaf0('AuthenticAMD')], ['kvm_pvm'])).toBe('pvm');
  expect(kvm.kvmSide([leaf0('GenuineIntel')], ['kvm_pvm'])).toBe('pvm');
  expect(kvm.kvmSide([leaf0('AuthenticAMD')], ['kvm_amd'])).toBe('svm');
  expect(kvm.kvmSide([leaf0('GenuineIntel')], ['kvm_intel', 'kvm_pvm'])).toBe('vmx');
  expect([kvm.shutdownResetsVcpu('svm'), kvm.shutdownResetsVcpu('vmx'), kvm.shutdownResetsVcpu('pvm')]).toEqual([true, false, false]);
});

it('lists the vendor modules /sys/module has', () => {
  const sysModule = mkdtempSync(join(tmpdir(), 'tsvisor-sys-module-'));
  try {
    for (const module of ['kvm', 'kvm_pvm', 'snd']) mkdirSync(join(sysModule, module));
    expect(kvm.loadedKvmModules(sysModule)).toEqual(['kvm_pvm']);
  } finally {
    rmSync(sysModule, { recursive: true });
  }
});

it('expects interrupt windows inside STI\'s shadow only from QEMU\'s software SVM', () => {
  expect(kvm.dropsStiShadowOnEntry('svm', 'QEMU TCG CPU version 2.5+')).toBe(true);
  expect(kvm.dropsStiShadowOnEntry('vmx', 'QEMU TCG CPU version 2.5+')).toBe(false);
  expect(kvm.dropsStiShadowOnEntry('svm', 'AMD EPYC 7B13 64-Core Processor')).toBe(false);
  expect(kvm.dropsStiShadowOnEntry('vmx', 'Intel(R) Xeon(R) Platinum 8369B CPU @ 2.70GHz')).toBe(false);
});
