/** A VmSpec as the text `tsvisor check` prints: the resolved machine, table by table. */
import { realModeStart } from '../boot/real-mode.js';
import type { DeviceSpec, ImageSpec, MemoryRegionSpec, VmSpec } from '../config/vm-spec.js';
import { describeRange } from '../config/devices-section.js';
import { MemoryFlag } from '../config/vm-spec.js';
import { hex } from '../errors.js';
import { describeImageSource } from '../images/image-source.js';
import { EMULATED_DEVICE_KINDS } from '../vmm/platform.js';

const VM_TYPES: Readonly<Record<number, string>> = { 0: 'host VM', 1: 'RTOS / full virtualization', 2: 'Linux' };

export function describeVm(spec: VmSpec): string {
  const sections = [
    describeBase(spec),
    table('Memory map', ['guest range', 'size', 'type', 'flags', 'host backing'], spec.memoryRegions.map(memoryRow)),
    table('Images', ['image', 'guest range', 'size', 'from'], spec.images.map(imageRow)),
    table('Devices', ['device', 'range', 'IRQ', 'from'], spec.devices.map(deviceRow)),
    `Boot\n  ${describeBoot(spec)}\n  command line: ${JSON.stringify(spec.boot.cmdline)}`,
  ];
  if (spec.warnings.length) sections.push(`Warnings\n${spec.warnings.map((warning) => `  ${warning}`).join('\n')}`);
  return `${sections.join('\n\n')}\n`;
}

export function describeBoot(spec: VmSpec): string {
  const { entryPoint, firmware } = spec.boot;
  const { csSelector, ip } = realModeStart(entryPoint);
  const image = spec.images.find((candidate) => entryPoint >= candidate.loadAddress && entryPoint < candidate.loadAddress + candidate.size);
  const where = firmware === 'config-bios' ? 'the BIOS image (bios_path), which starts the kernel' : `the ${image?.role ?? 'kernel'} image's own real-mode code`;
  return `vCPU 0 starts in real mode at ${hex(entryPoint)} (CS ${hex(csSelector, 4)}, IP ${hex(ip, 4)}), in ${where}`;
}

function describeBase(spec: VmSpec): string {
  const lines = [
    `VM ${spec.id} "${spec.name}": vm_type ${spec.vmType} (${VM_TYPES[spec.vmType] ?? 'unknown'}), ${spec.cpuCount} vCPU${spec.cpuCount === 1 ? '' : 's'}, interrupts ${spec.interruptMode}`,
  ];
  spec.vcpuAffinity?.forEach((cpus, vcpu) => lines.push(`  vCPU ${vcpu} may run on host CPU${cpus.length === 1 ? '' : 's'} ${cpus.join(', ')}`));
  if (spec.physCpuIds) lines.push(`  phys_cpu_ids: ${spec.physCpuIds.join(', ')}`);
  return lines.join('\n');
}

function memoryRow(region: MemoryRegionSpec): string[] {
  const type =
    region.mapType === 'reserved' ? 'reserved (MAP_RESERVED)' : `${region.readOnly ? 'read-only RAM' : 'RAM'} (MAP_${region.mapType.toUpperCase()})`;
  const backing =
    region.mapType === 'reserved'
      ? 'none: accesses exit, are counted and reported'
      : `${region.mapType === 'identical' ? 'memfd, prefaulted and locked' : 'anonymous, zero-filled, demand-paged'}${region.readOnly ? '; guest writes are dropped and reported' : ''}`;
  return [range(region.gpa, region.size), size(region.size), type, flags(region.flags), backing];
}

function imageRow(image: ImageSpec): string[] {
  return [image.role, range(image.loadAddress, image.size), size(image.size), describeImageSource(image.source)];
}

function deviceRow(device: DeviceSpec): string[] {
  const where = describeRange(device);
  const note = EMULATED_DEVICE_KINDS.has(device.kind) ? '' : ' (not emulated yet)';
  return [`${device.name}${note}`, where, device.irq === undefined ? '-' : String(device.irq), device.origin];
}

const range = (base: number, length: number) => `${hex(base)}-${hex(base + length - 1)}`;

function size(bytes: number): string {
  for (const [unit, scale] of [['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]] as const) {
    if (bytes >= scale && bytes % scale === 0) return `${bytes / scale} ${unit}`;
  }
  return `${bytes} B`;
}

/** "RWX---": READ, WRITE, EXECUTE, USER, DEVICE, UNCACHED. */
function flags(value: number): string {
  const letters: [number, string][] = [
    [MemoryFlag.read, 'R'], [MemoryFlag.write, 'W'], [MemoryFlag.execute, 'X'],
    [MemoryFlag.user, 'U'], [MemoryFlag.device, 'D'], [MemoryFlag.uncached, 'C'],
  ];
  return letters.map(([bit, letter]) => (value & bit ? letter : '-')).join('');
}

function table(title: string, header: readonly string[], rows: readonly string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  const format = (row: readonly string[]) => `  ${row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd()}`;
  return [title, format(header), ...rows.map(format)].join('\n');
}
