/** A VmSpec as the text `tsvisor check` prints: the resolved machine, table by table. */
import type { CpuidChange } from '../boot/cpuid.js';
import { realModeStart } from '../boot/real-mode.js';
import type { DeviceSpec, ImageSpec, MemoryRegionSpec, VmSpec } from '../config/vm-spec.js';
import { describeRange } from '../config/devices-section.js';
import { MemoryFlag } from '../config/vm-spec.js';
import { hex } from '../errors.js';
import { describeImageSource } from '../images/image-source.js';

const VM_TYPES: Readonly<Record<number, string>> = { 0: 'host VM', 1: 'RTOS / full virtualization', 2: 'Linux' };

/** The CPUID changes of vCPU 0, or why they could not be computed (they need /dev/kvm). */
export type CpuidReport = { readonly changes: readonly CpuidChange[] } | { readonly unavailable: string };

export function describeVm(spec: VmSpec, cpuid: CpuidReport): string {
  const sections = [
    describeBase(spec),
    table('Memory map', ['guest range', 'size', 'type', 'flags', 'host backing'], spec.memoryRegions.map(memoryRow)),
    table('Images', ['image', 'guest range', 'size', 'from'], spec.images.flatMap(imageRows)),
    table('Devices', ['device', 'range', 'IRQ', 'from'], spec.devices.map(deviceRow)),
    `Boot\n${describeBoot(spec).map((line) => `  ${line}`).join('\n')}`,
    'changes' in cpuid
      ? table('CPUID (vCPU 0: what tsvisor changes in what KVM supports)', ['leaf', 'register', 'KVM', 'tsvisor', 'why'], cpuid.changes.map(cpuidRow))
      : `CPUID\n  ${cpuid.unavailable}`,
  ];
  if (spec.warnings.length) sections.push(`Warnings\n${spec.warnings.map((warning) => `  ${warning}`).join('\n')}`);
  return `${sections.join('\n\n')}\n`;
}

const MODES = { real: 'real mode', protected: '32-bit protected mode (paging off, flat segments)', long: '64-bit long mode (tsvisor\'s GDT and identity page tables)' } as const;

/** The boot plan, a line each. */
export function describeBoot(spec: VmSpec): string[] {
  const boot = spec.boot;
  const lines: string[] = [];
  if (boot.cpuMode === 'real') {
    const { csSelector, ip } = realModeStart(boot.entryPoint);
    const where = boot.firmware === 'config-bios' ? 'the BIOS image (bios_path)' : boot.firmware === 'builtin-bios' ? 'tsvisor\'s built-in BIOS stub' : 'the kernel image\'s own real-mode code';
    lines.push(`vCPU 0 starts in real mode at ${hex(boot.entryPoint)} (CS ${hex(csSelector, 4)}, IP ${hex(ip, 4)}), in ${where}`);
  } else {
    lines.push(`tsvisor enters the ${boot.kernelFormat} kernel directly: vCPU 0 starts at ${hex(boot.entryPoint)} in ${MODES[boot.cpuMode]}`);
  }
  if (boot.firmware === 'builtin-bios') lines.push(`the BIOS enters the ${boot.kernelFormat} kernel at ${hex(boot.kernelEntry)} in 32-bit protected mode`);
  if (boot.firmware === 'config-bios') lines.push('the BIOS decides where the kernel starts (AxVisor\'s axvm-bios jumps to 0x200000 in 32-bit protected mode)');
  if (boot.multibootInfo) lines.push(`multiboot information at ${range(boot.multibootInfo.base, boot.multibootInfo.size)}, passed in EBX with EAX = 0x2BADB002`);
  if (boot.bootTables) lines.push(`boot GDT${boot.cpuMode === 'long' ? ' and page tables' : ''} at ${range(boot.bootTables.base, boot.bootTables.size)}`);
  lines.push(`command line: ${JSON.stringify(boot.cmdline)}`);
  return lines;
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

function imageRows(image: ImageSpec): string[][] {
  return image.segments.map((segment, index) => [
    image.segments.length > 1 ? `${image.role} (segment ${index})` : image.role,
    range(segment.gpa, segment.memSize),
    size(segment.memSize),
    describeImageSource(image.source),
  ]);
}

function cpuidRow(change: CpuidChange): string[] {
  const leaf = change.index ? `${hex(change.leaf)}.${change.index}` : hex(change.leaf);
  const value = (v: number | undefined) => (v === undefined ? '-' : hex(v, 8));
  return change.register === 'leaf'
    ? [leaf, '-', '-', '-', change.why]
    : [leaf, change.register.toUpperCase(), value(change.before), value(change.after), change.why];
}

function deviceRow(device: DeviceSpec): string[] {
  const where = describeRange(device);
  return [device.name, where, device.irq === undefined ? '-' : String(device.irq), device.origin];
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
  // A loop, not Math.max(...): a spread of 130,000 rows (memory regions) overflows the stack.
  const widths = header.map((_, column) => all.reduce((widest, row) => Math.max(widest, (row[column] ?? '').length), 0));
  const format = (row: readonly string[]) => `  ${row.map((cell, column) => cell.padEnd(widths[column] as number)).join('  ').trimEnd()}`;
  return [title, format(header), ...rows.map(format)].join('\n');
}
