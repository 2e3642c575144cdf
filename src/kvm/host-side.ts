/**
 * Which of KVM's x86 implementations runs the guest: AMD's SVM (kvm_amd), Intel's VMX
 * (kvm_intel), or PVM (kvm_pvm: a guest run in the host's user mode, for hosts that are
 * themselves virtual machines without SVM or VMX, on either vendor's CPU). They differ in ways
 * a VMM can see, and tsvisor handles each difference here or in the vCPU runner:
 *   - KVM_EXIT_SHUTDOWN (a triple fault): on SVM, KVM re-initialises the vCPU before it returns
 *     (arch/x86/kvm/svm/svm.c, shutdown_interception: the VMCB is undefined after a shutdown
 *     intercept), so the registers read afterwards are the INIT state, not the guest's; VMX and
 *     PVM keep the guest's state at the fault.
 * The side is kvm_pvm when that module is loaded and neither of the others is; otherwise it
 * follows the host CPU's vendor, which KVM reports in CPUID leaf 0.
 *
 * When the host CPU is itself emulated by QEMU in software (TCG: the test VM of a machine
 * without /dev/kvm), KVM runs on QEMU's model of SVM, which has a flaw a VMM must work around;
 * see dropsStiShadowOnEntry().
 */
import { existsSync } from 'node:fs';
import type { KvmCpuidEntry2 } from './structs.js';

export type KvmSide = 'svm' | 'vmx' | 'pvm';

/** The kernel modules that implement KVM's x86 side, by the names /sys/module gives them. */
const VENDOR_MODULES = ['kvm_amd', 'kvm_intel', 'kvm_pvm'] as const;
export type KvmVendorModule = (typeof VENDOR_MODULES)[number];

/** Which of KVM's vendor modules this host has loaded. */
export function loadedKvmModules(sysModule = '/sys/module'): KvmVendorModule[] {
  return VENDOR_MODULES.filter((module) => existsSync(`${sysModule}/${module}`));
}

/** CPUID leaf 0's vendor string (EBX, EDX, ECX) of the host, as KVM reports it. */
export function cpuVendor(supported: readonly KvmCpuidEntry2[]): string {
  const leaf0 = supported.find((entry) => entry.function === 0 && entry.index === 0);
  if (!leaf0) return '';
  const bytes = new Uint8Array(new Uint32Array([leaf0.ebx, leaf0.edx, leaf0.ecx]).buffer);
  return new TextDecoder().decode(bytes);
}

/** kvm_pvm alone means PVM; otherwise AMD and Hygon processors virtualise with SVM, Intel, Zhaoxin and Centaur with VMX. */
export function kvmSide(supported: readonly KvmCpuidEntry2[], modules: readonly KvmVendorModule[] = []): KvmSide {
  if (modules.includes('kvm_pvm') && !modules.includes('kvm_amd') && !modules.includes('kvm_intel')) return 'pvm';
  const vendor = cpuVendor(supported);
  return vendor === 'AuthenticAMD' || vendor === 'HygonGenuine' ? 'svm' : 'vmx';
}

/** On a shutdown exit, KVM has replaced the guest's registers with the INIT state. */
export function shutdownResetsVcpu(side: KvmSide): boolean {
  return side === 'svm';
}

/** A CPU QEMU emulates in software (TCG) names itself "QEMU TCG CPU ..." in its model string (/proc/cpuinfo). */
export function emulatedByQemu(model: string): boolean {
  return /\bQEMU TCG\b/.test(model);
}

/**
 * QEMU's software SVM before QEMU 9.1 does not load the interrupt shadow from the VMCB on VMRUN
 * (fixed by QEMU's "target/i386: fix INHIBIT_IRQ/TF/RF handling for VMRUN", June 2024). After
 * an exit between STI and HLT (a timer signal), KVM enters again asking for an interrupt window,
 * and the emulated CPU opens it at once, inside STI's shadow, with RIP on the HLT: the interrupt
 * handler then returns to a HLT that nothing may end. Hardware never does this (SDM vol. 2B,
 * "STI"), so the exit handler repairs it only on such a host (ExitHandler, completeHaltInStiShadow).
 */
export function dropsStiShadowOnEntry(side: KvmSide, hostCpuModel: string): boolean {
  return side === 'svm' && emulatedByQemu(hostCpuModel);
}
