/**
 * CPU features by QEMU's names (`-cpu host,-avx,+sse4.2`; QEMU's target/i386/cpu.c
 * feature_word_info), with the CPUID bit each one is (Intel SDM vol. 2A, CPUID, tables 3-8
 * to 3-11 and leaf 07H; AMD's APM vol. 3, CPUID Fn8000_0001). A config turns features off
 * (the bit is cleared in every vCPU's CPUID) or asks for them on (the bit is set where KVM
 * supports the feature, as QEMU's `-cpu host` does; what KVM lacks stays off).
 */

export interface CpuFeatureBit {
  /** The feature's first name in QEMU, what an alias stands for. */
  readonly name: string;
  readonly leaf: number;
  readonly index: number;
  readonly register: 'eax' | 'ebx' | 'ecx' | 'edx';
  readonly bit: number;
}

/** A feature set on or off by a config: the name as QEMU spells it. */
export interface CpuFeatureSetting {
  readonly name: string;
  readonly enabled: boolean;
}

const register = (leaf: number, index: number, reg: CpuFeatureBit['register'], names: readonly (string | undefined)[]) =>
  names.flatMap((names, bit) => {
    const aliases = names?.split('|') ?? [];
    return aliases.map((alias) => [alias, { name: aliases[0] as string, leaf, index, register: reg, bit }] as const);
  });

/** Each name (and QEMU's aliases: sse3 for pni, sse4-1 for sse4.1, ...) with its bit. */
export const CPU_FEATURES: ReadonlyMap<string, CpuFeatureBit> = new Map([
  ...register(1, 0, 'edx', [
    'fpu', 'vme', 'de', 'pse', 'tsc', 'msr', 'pae', 'mce', 'cx8', 'apic', undefined, 'sep', 'mtrr', 'pge', 'mca', 'cmov',
    'pat', 'pse36', 'pn', 'clflush', undefined, 'ds', 'acpi', 'mmx', 'fxsr', 'sse', 'sse2', 'ss', 'ht', 'tm', 'ia64', 'pbe',
  ]),
  ...register(1, 0, 'ecx', [
    'pni|sse3', 'pclmulqdq|pclmuldq', 'dtes64', 'monitor', 'ds-cpl', 'vmx', 'smx', 'est', 'tm2', 'ssse3', 'cid', undefined, 'fma', 'cx16', 'xtpr', 'pdcm',
    undefined, 'pcid', 'dca', 'sse4.1|sse4-1', 'sse4.2|sse4-2', 'x2apic', 'movbe', 'popcnt', 'tsc-deadline', 'aes', 'xsave', 'osxsave', 'avx', 'f16c', 'rdrand', 'hypervisor',
  ]),
  ...register(7, 0, 'ebx', [
    'fsgsbase', 'tsc-adjust', 'sgx', 'bmi1', 'hle', 'avx2', undefined, 'smep', 'bmi2', 'erms', 'invpcid', 'rtm', undefined, undefined, 'mpx', undefined,
    'avx512f', 'avx512dq', 'rdseed', 'adx', 'smap', 'avx512ifma', 'pcommit', 'clflushopt', 'clwb', 'intel-pt', 'avx512pf', 'avx512er', 'avx512cd', 'sha-ni', 'avx512bw', 'avx512vl',
  ]),
  ...register(7, 0, 'ecx', [
    undefined, 'avx512vbmi', 'umip', 'pku', 'ospke', 'waitpkg', 'avx512vbmi2', undefined, 'gfni', 'vaes', 'vpclmulqdq', 'avx512vnni', 'avx512bitalg', undefined, 'avx512-vpopcntdq', undefined,
    'la57', undefined, undefined, undefined, undefined, undefined, 'rdpid', undefined, undefined, 'cldemote', undefined, 'movdiri', 'movdir64b',
  ]),
  ...register(7, 0, 'edx', [
    undefined, undefined, 'avx512-4vnniw', 'avx512-4fmaps', 'fsrm', undefined, undefined, undefined, undefined, undefined, 'md-clear', undefined, undefined, undefined, 'serialize', undefined,
    'tsx-ldtrk', undefined, 'pconfig', 'arch-lbr', undefined, undefined, undefined, undefined, undefined, undefined, 'spec-ctrl', 'stibp', undefined, 'arch-capabilities', 'core-capability', 'ssbd',
  ]),
  ...register(0x8000_0001, 0, 'edx', [
    undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, undefined, 'syscall', undefined, undefined, undefined, undefined,
    undefined, undefined, undefined, undefined, 'nx|xd', undefined, 'mmxext', undefined, undefined, 'fxsr-opt|ffxsr', 'pdpe1gb', 'rdtscp', undefined, 'lm|i64', '3dnowext', '3dnow',
  ]),
  ...register(0x8000_0001, 0, 'ecx', [
    'lahf-lm', 'cmp-legacy', 'svm', 'extapic', 'cr8legacy', 'abm', 'sse4a', 'misalignsse', '3dnowprefetch', 'osvw', 'ibs', 'xop', 'skinit', 'wdt', undefined, 'lwp',
    'fma4', 'tce', undefined, 'nodeid-msr', undefined, 'tbm', 'topoext', 'perfctr-core', 'perfctr-nb',
  ]),
]);

/**
 * KVM's paravirtual features (leaf 0x40000001), which QEMU's -cpu also takes: tsvisor offers
 * no KVM paravirtual leaf, so each of them is off and can only be asked to stay off.
 */
export const KVM_PARAVIRTUAL_FEATURES: ReadonlySet<string> = new Set([
  'kvmclock', 'kvm-nopiodelay', 'kvm-mmu', 'kvmclock-stable-bit', 'kvm-asyncpf', 'kvm-steal-time', 'kvm-pv-eoi', 'kvm-pv-unhalt',
  'kvm-pv-tlb-flush', 'kvm-pv-ipi', 'kvm-poll-control', 'kvm-pv-sched-yield', 'kvm-asyncpf-int', 'kvm-msi-ext-dest-id',
]);

/** The feature `name` stands for (QEMU takes '_' for '-'), or undefined for a name neither QEMU's x86 CPUs nor tsvisor know. */
export function canonicalFeatureName(name: string): string | undefined {
  const spelled = name.replaceAll('_', '-');
  return CPU_FEATURES.get(spelled)?.name ?? (KVM_PARAVIRTUAL_FEATURES.has(spelled) ? spelled : undefined);
}

/** Why a feature cannot be turned on in a tsvisor vCPU, or undefined when it can. */
export function cannotEnable(name: string): string | undefined {
  if (name === 'x2apic') return 'tsvisor\'s Local APIC is xAPIC only: KVM never hands the x2APIC MSRs to a userspace APIC';
  if (KVM_PARAVIRTUAL_FEATURES.has(name)) return 'tsvisor offers none of KVM\'s paravirtual features (CPUID leaf 0x40000001)';
  return undefined;
}
