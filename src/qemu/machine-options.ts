/** -machine, -accel, -m and -smp: QEMU's syntax and checks, and the messages QEMU 7.2 gives. */
import { MAX_VCPUS } from '../config/base-section.js';
import { parseKeyValues, parseUnsigned } from './keyval.js';
import type { MachineType } from './invocation.js';
import { QemuError } from './qemu-error.js';

/** QEMU's machine names for tsvisor's PC: the aliases and the 7.2 versions they stand for. */
const MACHINES: Readonly<Record<string, MachineType>> = { pc: 'pc', 'pc-i440fx-7.2': 'pc', q35: 'q35', 'pc-q35-7.2': 'q35' };
/** The accelerators QEMU has that are not KVM. */
const OTHER_ACCELERATORS = ['tcg', 'xen', 'hax', 'hvf', 'whpx', 'nvmm', 'qtest'];

/** -machine [type=]name[,accel=kvm]: the machine type, when the option names one. */
export function parseMachine(text: string): MachineType | undefined {
  const option = `-machine ${text}`;
  let machine: MachineType | undefined;
  for (const { key, value } of parseKeyValues('-machine', text, 'type')) {
    if (key === 'type') {
      machine = MACHINES[value];
      if (!machine) throw new QemuError(option, `tsvisor has no machine '${value}': it runs QEMU's PC machines, pc (i440FX) and q35, as its own PC. Use -machine pc or -machine q35.`);
    } else if (key === 'accel') {
      // QEMU names no option when -machine's accelerator is unknown.
      checkAccelerators(option, value.split(':'), undefined);
    } else {
      throw new QemuError(option, `tsvisor's PC has no property '${key}' (it takes a machine type, pc or q35, and accel=kvm).`);
    }
  }
  return machine;
}

/** -accel kvm: KVM, without properties. */
export function parseAccel(text: string): void {
  const option = `-accel ${text}`;
  for (const { key, value } of parseKeyValues('-accel', text, 'accel')) {
    if (key === 'accel') checkAccelerators(option, [value], option);
    else throw new QemuError(option, `tsvisor takes no KVM property '${key}': it sets KVM up its own way.`);
  }
}

/** QEMU takes the first accelerator of a list that works; tsvisor needs KVM among them. */
function checkAccelerators(option: string, names: readonly string[], unknownOption: string | undefined): void {
  const unknown = names.find((name) => name !== 'kvm' && !OTHER_ACCELERATORS.includes(name));
  if (unknown !== undefined) throw new QemuError(unknownOption, `invalid accelerator ${unknown}`);
  if (!names.includes('kvm')) throw new QemuError(option, `tsvisor runs guests on KVM only, not ${names.join(' or ')}. Use accel=kvm.`);
}

const SIZE_SUFFIXES: Readonly<Record<string, number>> = { b: 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50, e: 2 ** 60 };
const SIZE_HELP = 'Parameter \'size\' expects a non-negative number below 2^64\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.';
/** QEMU rounds the RAM size up to 8 KiB (system/vl.c, parse_memory_options). */
const RAM_ALIGNMENT = 8192;
export const DEFAULT_RAM_SIZE = 128 * 2 ** 20;

/** A QEMU size: a number with an optional suffix; without one, `defaultUnit` bytes (MiB for -m). */
export function parseSize(option: string, text: string, defaultUnit: number): number {
  const match = /^(\d+(?:\.\d+)?|0x[0-9a-f]+)([bkmgtpe])?$/i.exec(text);
  const scale = match?.[2] ? (SIZE_SUFFIXES[match[2].toLowerCase()] as number) : defaultUnit;
  const size = match ? Number(match[1]) * scale : Number.NaN;
  if (!Number.isFinite(size) || size >= 2 ** 64) throw new QemuError(option, SIZE_HELP);
  return Math.floor(size);
}

/** -m [size=]megs[,slots=n,maxmem=size]: the RAM size; slots and maxmem (memory hotplug) are checked and have no further effect. */
export function parseMemory(text: string): number {
  const option = `-m ${text}`;
  let size: number | undefined;
  let slots: number | undefined;
  let maxmem: number | undefined;
  for (const { key, value } of parseKeyValues('-m', text, 'size')) {
    if (key === 'size') size = parseSize(option, value, 2 ** 20);
    else if (key === 'slots') slots = parseUnsigned(option, key, value);
    else if (key === 'maxmem') maxmem = parseSize(option, value, 1);
    else throw new QemuError(option, `Invalid parameter '${key}'`);
  }
  // QEMU takes -m 0 as its default size.
  const ram = size === undefined || size === 0 ? DEFAULT_RAM_SIZE : Math.ceil(size / RAM_ALIGNMENT) * RAM_ALIGNMENT;
  if (slots !== undefined && maxmem === undefined) throw new QemuError(undefined, 'slots specified but no max-size');
  if (maxmem !== undefined && maxmem < ram) {
    throw new QemuError(undefined, `invalid value of maxmem: maximum memory size (0x${maxmem.toString(16)}) must be at least the initial memory size (0x${ram.toString(16)})`);
  }
  return ram;
}

const SMP_KEYS = ['cpus', 'maxcpus', 'sockets', 'dies', 'clusters', 'cores', 'threads'] as const;
type SmpKey = (typeof SMP_KEYS)[number];

/**
 * -smp [cpus=]n[,maxcpus=,sockets=,dies=,cores=,threads=]: the vCPUs at boot and in all,
 * computed and checked as QEMU 7.2 does for its PC machines (hw/core/machine-smp.c, which
 * prefers cores over sockets for a missing count). The topology itself is not modelled.
 * QEMU's vCPUs above cpus are hot-pluggable; tsvisor's are all there, off the APIC bus until
 * plugged in (tsvisor.current_cpus).
 */
export function parseSmp(text: string, machine: MachineType): { readonly cpus: number; readonly maxCpus: number } {
  const given: Partial<Record<SmpKey, number>> = {};
  for (const { key, value } of parseKeyValues('-smp', text, 'cpus')) {
    if (!(SMP_KEYS as readonly string[]).includes(key)) throw new QemuError(`-smp ${text}`, `Invalid parameter '${key}'`);
    if (!/^\d+$/.test(value)) throw new QemuError(undefined, `Parameter 'smp.${key}' expects integer`);
    given[key as SmpKey] = Number(value);
  }
  let { cpus = 0, maxcpus = 0, sockets = 0, cores = 0, threads = 0 } = given;
  const dies = given.dies || 1;
  const clusters = given.clusters || 1;
  if (cpus === 0 && maxcpus === 0) {
    sockets ||= 1;
    cores ||= 1;
    threads ||= 1;
  } else {
    maxcpus ||= cpus;
    if (cores === 0) {
      sockets ||= 1;
      threads ||= 1;
      cores = Math.floor(maxcpus / (sockets * dies * clusters * threads));
    } else if (sockets === 0) {
      threads ||= 1;
      sockets = Math.floor(maxcpus / (dies * clusters * cores * threads));
    }
    threads ||= Math.floor(maxcpus / (sockets * dies * clusters * cores));
  }
  maxcpus ||= sockets * dies * clusters * cores * threads;
  cpus ||= maxcpus;
  const product = `sockets (${sockets}) * dies (${dies}) * cores (${cores}) * threads (${threads})`;
  if (sockets * dies * clusters * cores * threads !== maxcpus) {
    throw new QemuError(undefined, `Invalid CPU topology: product of the hierarchy must match maxcpus: ${product} != maxcpus (${maxcpus})`);
  }
  if (maxcpus < cpus) {
    throw new QemuError(undefined, `Invalid CPU topology: maxcpus must be equal to or greater than smp: ${product} == maxcpus (${maxcpus}) < smp_cpus (${cpus})`);
  }
  // QEMU 7.2 names maxcpus in this message too (-smp 1,maxcpus=300).
  if (maxcpus > MAX_VCPUS) {
    const name = machine === 'pc' ? 'pc-i440fx-7.2' : 'pc-q35-7.2';
    throw new QemuError(undefined, `Invalid SMP CPUs ${maxcpus}. The max CPUs supported by machine '${name}' is ${MAX_VCPUS}`);
  }
  return { cpus, maxCpus: maxcpus };
}
