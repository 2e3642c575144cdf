/**
 * tsvisor domxml-from-toml: a TOML config's VM as a libvirt domain, and what does not carry
 * over. The domain is built from the config's VmSpec (RAM size, vCPUs and their pinning, the
 * kernel, BIOS, modules and command line, CPU features, tsvisor's debug-exit, pc-testdev and
 * fw_cfg as <qemu:arg> devices), then read back through the domain front end: every way in
 * which the VM it makes differs from the config's is listed, so that nothing is lost silently.
 */
import { randomUUID } from 'node:crypto';
import type { DeviceSpec, VmSpec } from '../config/vm-spec.js';
import { hex } from '../errors.js';
import { domainConfig } from './domain-config.js';
import type { DomainDefinition } from './domain.js';
import { writeDomain } from './write-domain.js';

export interface TranslatedDomain {
  readonly xml: string;
  /** What the domain does not say of the config, one sentence each. */
  readonly lost: readonly string[];
}

export function tomlToDomain(spec: VmSpec): TranslatedDomain {
  const domain = domainDefinitionOf(spec);
  const lost: string[] = [];
  try {
    lost.push(...differences(spec, domainConfig(domain, spec.configPath).spec));
  } catch (error) {
    lost.push(`the domain cannot be run as it is: ${(error as Error).message}`);
  }
  return { xml: writeDomain(domain), lost };
}

export function domainDefinitionOf(spec: VmSpec): DomainDefinition {
  const ram = spec.memoryRegions.filter((region) => region.mapType !== 'reserved' && !region.readOnly);
  const memoryKib = BigInt(Math.ceil(ram.reduce((sum, region) => sum + region.size, 0) / 1024));
  const image = (role: string) => spec.images.find((entry) => entry.role === role);
  const path = (role: string) => {
    const source = image(role)?.source;
    return source?.kind === 'host' ? source.path : undefined;
  };
  const modules = spec.images.filter((entry) => entry.role === 'module' && entry.source.kind === 'host');
  const initrd = modules.length > 0 ? modules.map((module) => (module.source.kind === 'host' ? module.source.path : '') + (module.moduleString ? ` ${module.moduleString}` : '')).join(',') : path('ramdisk');
  return {
    name: spec.name,
    uuid: randomUUID(),
    uuidGenerated: true,
    title: undefined,
    description: undefined,
    memoryKib,
    currentMemoryKib: memoryKib,
    maxMemory: undefined,
    vcpus: { maximum: spec.cpuCount, current: spec.cpuCount, placement: 'static', cpuset: undefined },
    vcpuPins: (spec.vcpuAffinity ?? []).map((cpus, vcpu) => ({ vcpu, cpus })),
    os: { machine: undefined, loader: path('bios'), kernel: path('kernel'), initrd, cmdline: spec.boot.cmdline === '' ? undefined : spec.boot.cmdline, bootDevices: [], biosUseSerial: undefined, bootMenu: undefined, smbiosMode: undefined },
    features: { acpi: false, apic: false, pae: false },
    cpu: { mode: spec.cpuFeatures.length > 0 ? 'host-passthrough' : undefined, features: spec.cpuFeatures.map(({ name, enabled }) => ({ name, policy: enabled ? 'require' : 'disable' })) },
    clock: { offset: 'utc', timers: [] },
    onPoweroff: 'destroy',
    // tsvisor run ends when its guest resets: the domain says the same.
    onReboot: 'destroy',
    onCrash: 'destroy',
    serial: { type: 'stdio' },
    memballoon: 'none',
    emulator: undefined,
    qemuArgs: spec.devices.flatMap(deviceArgs),
    qemuEnv: [],
    notes: [],
  };
}

/** tsvisor's own devices as the QEMU options that make them. */
function deviceArgs(device: DeviceSpec): string[] {
  if (device.kind === 'debug-exit') return ['-device', `isa-debug-exit,iobase=${hex(device.base)},iosize=${hex(device.length)}`];
  if (device.kind === 'pc-testdev-ioport') return ['-device', 'pc-testdev'];
  if (device.kind === 'fw-cfg') return (device.fwCfgFiles ?? []).flatMap((file) => ['-fw_cfg', 'string' in file ? `name=${file.name},string=${file.string}` : `name=${file.name},file=${file.file}`]);
  return [];
}

/** How the VM the domain makes differs from the config's. */
function differences(config: VmSpec, domain: VmSpec): string[] {
  const lost: string[] = [];
  const region = (spec: VmSpec) => spec.memoryRegions.map((entry) => `${hex(entry.gpa)}+${hex(entry.size)} ${entry.mapType}${entry.readOnly ? ' read-only' : ''}`).join(', ');
  if (region(config) !== region(domain)) lost.push(`the memory map: the config has ${region(config)}; the domain's PC has ${region(domain)}.`);
  const placement = (spec: VmSpec) => spec.images.map((image) => `${image.role} at ${image.segments.map((segment) => `${hex(segment.gpa)}+${hex(segment.memSize)}`).join('/')}`).join(', ');
  if (placement(config) !== placement(domain)) lost.push(`where the images load: the config has ${placement(config)}; the domain has ${placement(domain)}.`);
  const boot = ({ boot: plan }: VmSpec) => `a ${plan.kernelFormat} kernel, ${plan.method} boot (firmware: ${plan.firmware}), ${plan.cpuMode} mode at ${hex(plan.entryPoint)}, the kernel at ${hex(plan.kernelEntry)}`;
  if (boot(config) !== boot(domain)) lost.push(`how vCPU 0 starts: the config has ${boot(config)}; the domain has ${boot(domain)}.`);
  const key = (device: DeviceSpec) => `${device.kind}@${device.base}`;
  const named = (devices: readonly DeviceSpec[]) => devices.map((device) => `${device.name} at ${hex(device.base)}`).join(', ');
  const ours = new Set(domain.devices.map(key));
  const theirs = new Set(config.devices.map(key));
  const missing = config.devices.filter((device) => !ours.has(key(device)));
  if (missing.length > 0) lost.push(`devices the domain's PC does not have: ${named(missing)}.`);
  const added = domain.devices.filter((device) => !theirs.has(key(device)));
  if (added.length > 0) lost.push(`the domain's PC also has: ${named(added)}.`);
  for (const device of config.devices) {
    const match = domain.devices.find((other) => key(other) === key(device));
    if (match && (match.length !== device.length || match.irq !== device.irq)) {
      lost.push(`${device.name} at ${hex(device.base)}: the config gives it ${hex(device.length)} bytes and interrupt ${device.irq ?? 'none'}, the domain ${hex(match.length)} bytes and interrupt ${match.irq ?? 'none'}.`);
    }
  }
  if (config.physCpuIds !== undefined) lost.push('base.phys_cpu_ids: a domain pins vCPUs with <vcpupin> (phys_cpu_sets), not by CPU id.');
  return lost;
}
