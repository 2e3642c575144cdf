/** What tsvisor works out about the host from KVM's CPUID and the host CPU's model name. */
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

it('expects interrupt windows inside STI\'s shadow only from QEMU\'s software SVM', () => {
  expect(kvm.dropsStiShadowOnEntry('svm', 'QEMU TCG CPU version 2.5+')).toBe(true);
  expect(kvm.dropsStiShadowOnEntry('vmx', 'QEMU TCG CPU version 2.5+')).toBe(false);
  expect(kvm.dropsStiShadowOnEntry('svm', 'AMD EPYC 7B13 64-Core Processor')).toBe(false);
  expect(kvm.dropsStiShadowOnEntry('vmx', 'Intel(R) Xeon(R) Platinum 8369B CPU @ 2.70GHz')).toBe(false);
});
