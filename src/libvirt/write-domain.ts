/**
 * A domain definition as libvirt writes it back (virsh dumpxml): its element order, two-space
 * indentation, single-quoted attributes, memory in KiB, a cpuset in its shortest form, and the
 * defaults filled in (measured against `virsh -c test:///default dumpxml`). A running domain
 * carries its id. The <qemu:commandline> is kept, as libvirt's QEMU driver keeps it.
 */
import { formatCpuset } from './cpuset.js';
import type { DomainDefinition, DomainSerial } from './domain.js';
import { QEMU_NAMESPACE } from './element-reader.js';

export interface LiveState {
  readonly id: number;
  /** The vCPUs the guest may start now (setvcpus --live). */
  readonly currentVcpus?: number;
}

export function writeDomain(domain: DomainDefinition, live?: LiveState): string {
  const lines: string[] = [];
  const add = (depth: number, text: string) => lines.push(`${'  '.repeat(depth)}${text}`);
  const hasQemu = domain.qemuArgs.length > 0 || domain.qemuEnv.length > 0;
  add(0, `<domain type='kvm'${live ? ` id='${live.id}'` : ''}${hasQemu ? ` xmlns:qemu='${QEMU_NAMESPACE}'` : ''}>`);
  add(1, element('name', domain.name));
  add(1, element('uuid', domain.uuid));
  if (domain.title !== undefined) add(1, element('title', domain.title));
  if (domain.description !== undefined) add(1, element('description', domain.description));
  if (domain.maxMemory) add(1, element('maxMemory', String(domain.maxMemory.kib), { slots: String(domain.maxMemory.slots), unit: 'KiB' }));
  add(1, element('memory', String(domain.memoryKib), { unit: 'KiB' }));
  add(1, element('currentMemory', String(domain.currentMemoryKib), { unit: 'KiB' }));
  const { vcpus } = domain;
  const current = live?.currentVcpus ?? vcpus.current;
  add(1, element('vcpu', String(vcpus.maximum), { placement: vcpus.placement, cpuset: vcpus.cpuset && formatCpuset(vcpus.cpuset), current: current === vcpus.maximum ? undefined : String(current) }));
  if (domain.vcpuPins.length > 0) {
    add(1, '<cputune>');
    for (const pin of domain.vcpuPins) add(2, element('vcpupin', undefined, { vcpu: String(pin.vcpu), cpuset: formatCpuset(pin.cpus) }));
    add(1, '</cputune>');
  }
  writeOs(domain, add);
  const features = (['acpi', 'apic', 'pae'] as const).filter((name) => domain.features[name]);
  if (features.length > 0) {
    add(1, '<features>');
    for (const name of features) add(2, `<${name}/>`);
    add(1, '</features>');
  }
  if (domain.cpu.mode !== undefined || domain.cpu.features.length > 0) {
    const attributes = { mode: domain.cpu.mode };
    if (domain.cpu.features.length === 0) add(1, element('cpu', undefined, attributes));
    else {
      add(1, open('cpu', attributes));
      for (const feature of domain.cpu.features) add(2, element('feature', undefined, { policy: feature.policy, name: feature.name }));
      add(1, '</cpu>');
    }
  }
  if (domain.clock.timers.length === 0) add(1, element('clock', undefined, { offset: domain.clock.offset }));
  else {
    add(1, open('clock', { offset: domain.clock.offset }));
    for (const timer of domain.clock.timers) add(2, element('timer', undefined, { name: timer.name, tickpolicy: timer.tickpolicy, present: timer.present === undefined ? undefined : timer.present ? 'yes' : 'no' }));
    add(1, '</clock>');
  }
  add(1, element('on_poweroff', domain.onPoweroff));
  add(1, element('on_reboot', domain.onReboot));
  add(1, element('on_crash', domain.onCrash));
  add(1, '<devices>');
  if (domain.emulator !== undefined) add(2, element('emulator', domain.emulator));
  if (domain.serial) {
    for (const [name, target] of [['serial', { port: '0' }], ['console', { type: 'serial', port: '0' }]] as const) {
      add(2, open(name, { type: domain.serial.type }));
      const source = sourceAttributes(domain.serial);
      if (source) add(3, element('source', undefined, source));
      add(3, element('target', undefined, target));
      add(2, `</${name}>`);
    }
  }
  if (domain.memballoon !== undefined) add(2, element('memballoon', undefined, { model: domain.memballoon }));
  add(1, '</devices>');
  if (hasQemu) {
    add(1, '<qemu:commandline>');
    for (const value of domain.qemuArgs) add(2, element('qemu:arg', undefined, { value }));
    for (const { name, value } of domain.qemuEnv) add(2, element('qemu:env', undefined, { name, value }));
    add(1, '</qemu:commandline>');
  }
  add(0, '</domain>');
  return `${lines.join('\n')}\n`;
}

function writeOs(domain: DomainDefinition, add: (depth: number, text: string) => void): void {
  const { os } = domain;
  add(1, '<os>');
  add(2, element('type', 'hvm', { arch: 'x86_64', machine: os.machine }));
  if (os.loader !== undefined) add(2, element('loader', os.loader, { readonly: 'yes', type: 'rom' }));
  if (os.kernel !== undefined) add(2, element('kernel', os.kernel));
  if (os.initrd !== undefined) add(2, element('initrd', os.initrd));
  if (os.cmdline !== undefined) add(2, element('cmdline', os.cmdline));
  for (const device of os.bootDevices) add(2, element('boot', undefined, { dev: device }));
  if (os.bootMenu !== undefined) add(2, element('bootmenu', undefined, { enable: os.bootMenu ? 'yes' : 'no' }));
  if (os.biosUseSerial !== undefined) add(2, element('bios', undefined, { useserial: os.biosUseSerial ? 'yes' : 'no' }));
  if (os.smbiosMode !== undefined) add(2, element('smbios', undefined, { mode: os.smbiosMode }));
  add(1, '</os>');
}

function sourceAttributes(serial: DomainSerial): Record<string, string | undefined> | undefined {
  switch (serial.type) {
    case 'file':
      return { path: serial.path, append: serial.append ? 'on' : undefined };
    case 'unix':
      return { mode: serial.mode, path: serial.path };
    case 'tcp':
      return { mode: serial.mode, host: serial.host, service: serial.service };
    default:
      return undefined;
  }
}

function attributeText(attributes: Record<string, string | undefined>): string {
  return Object.entries(attributes)
    .filter((entry): entry is [string, string] => entry[1] !== undefined)
    .map(([name, value]) => ` ${name}='${escape(value).replace(/'/g, '&apos;')}'`)
    .join('');
}

function open(name: string, attributes: Record<string, string | undefined>): string {
  return `<${name}${attributeText(attributes)}>`;
}

function element(name: string, text: string | undefined, attributes: Record<string, string | undefined> = {}): string {
  return text === undefined ? `<${name}${attributeText(attributes)}/>` : `${open(name, attributes)}${escape(text)}</${name}>`;
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
