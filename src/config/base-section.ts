/** [base]: the VM's identity, its vCPU count and where its vCPUs may run. */
import type { HostFacts } from '../host/cpu.js';
import type { ConfigSource } from './config-source.js';
import type { VmSpec } from './vm-spec.js';

/** xAPIC IDs are 8 bits and 0xff is the broadcast ID: at most 255 vCPUs. */
export const MAX_VCPUS = 255;
/** phys_cpu_sets entries are usize bitmasks. */
const MAX_CPU_MASK = (1n << 64n) - 1n;

export type BaseSpec = Pick<VmSpec, 'id' | 'name' | 'vmType' | 'cpuCount' | 'vcpuAffinity' | 'physCpuIds'>;

export function readBase(source: ConfigSource, host: HostFacts): BaseSpec {
  const base = source.table('base');
  const cpuCount = source.integer(source.required(base, 'base', 'cpu_num'), 'base.cpu_num', { min: 1, max: MAX_VCPUS });

  let physCpuIds: number[] | undefined;
  if (base.phys_cpu_ids !== undefined) {
    const ids = source.array(base.phys_cpu_ids, 'base.phys_cpu_ids');
    checkOnePerVcpu(source, 'base.phys_cpu_ids', ids.length, cpuCount);
    physCpuIds = ids.map((id, i) => source.integer(id, `base.phys_cpu_ids[${i}]`));
  }

  let vcpuAffinity: number[][] | undefined;
  if (base.phys_cpu_sets !== undefined) {
    const masks = source.array(base.phys_cpu_sets, 'base.phys_cpu_sets');
    checkOnePerVcpu(source, 'base.phys_cpu_sets', masks.length, cpuCount);
    vcpuAffinity = masks.map((value, vcpu) => hostCpus(source, host, value, `base.phys_cpu_sets[${vcpu}]`));
  }

  return {
    id: source.integer(source.required(base, 'base', 'id'), 'base.id'),
    name: source.string(source.required(base, 'base', 'name'), 'base.name'),
    vmType: source.integer(source.required(base, 'base', 'vm_type'), 'base.vm_type', { max: 2 }),
    cpuCount,
    vcpuAffinity,
    physCpuIds,
  };
}

function checkOnePerVcpu(source: ConfigSource, path: string, length: number, cpuCount: number): void {
  if (length !== cpuCount) {
    throw source.error(path, `expected one entry per vCPU (cpu_num = ${cpuCount}), found ${length}.`, `Give exactly ${cpuCount} entries, the first for vCPU 0.`);
  }
}

/** The host CPUs a phys_cpu_sets bitmask names: bit n is host CPU n. */
function hostCpus(source: ConfigSource, host: HostFacts, value: unknown, path: string): number[] {
  const mask = source.bigInteger(value, path, { min: 1n, max: MAX_CPU_MASK });
  const cpus: number[] = [];
  for (let cpu = 0; mask >> BigInt(cpu) !== 0n; cpu++) {
    if (((mask >> BigInt(cpu)) & 1n) === 0n) continue;
    if (!host.cpus.includes(cpu)) {
      throw source.error(
        path,
        `bit ${cpu} names host CPU ${cpu}, but this host's online CPUs are ${describeCpus(host.cpus)}.`,
        `Use a mask of online CPUs only (bit n is CPU n; ${hex(host.cpus)} allows all of them).`,
      );
    }
    cpus.push(cpu);
  }
  return cpus;
}

function describeCpus(cpus: readonly number[]): string {
  return cpus.length === 1 ? `only CPU ${cpus[0]}` : `${cpus.slice(0, -1).join(', ')} and ${cpus.at(-1)}`;
}

function hex(cpus: readonly number[]): string {
  return `0x${cpus.reduce((mask, cpu) => mask | (1n << BigInt(cpu)), 0n).toString(16)}`;
}
