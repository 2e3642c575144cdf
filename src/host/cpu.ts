/** Facts about the host the config layer checks against: its CPUs and its physical address width. */
import { readFileSync } from 'node:fs';

export interface HostFacts {
  /** The online host CPUs, by number. */
  readonly cpus: readonly number[];
  /** MAXPHYADDR: guest physical addresses must stay below 2^bits. */
  readonly physicalAddressBits: number;
}

/** The x86-64 architectural maximum, used when /proc/cpuinfo does not say. */
const ARCHITECTURAL_PHYSICAL_ADDRESS_BITS = 52;

/** Parses a kernel CPU list such as "0-3,8,10-11". */
export function parseCpuList(list: string): number[] {
  const cpus: number[] = [];
  for (const part of list.trim().split(',')) {
    if (!part) continue;
    const [first, last = first] = part.split('-').map(Number) as [number, number?];
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

export function readHostFacts(): HostFacts {
  let cpus: number[];
  try {
    cpus = parseCpuList(readFileSync('/sys/devices/system/cpu/online', 'utf8'));
  } catch {
    cpus = [0];
  }
  let physicalAddressBits = ARCHITECTURAL_PHYSICAL_ADDRESS_BITS;
  try {
    const match = /address sizes\s*:\s*(\d+) bits physical/.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (match) physicalAddressBits = Number(match[1]);
  } catch {
    // keep the architectural maximum
  }
  return { cpus, physicalAddressBits };
}
