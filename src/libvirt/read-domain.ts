/**
 * A libvirt domain XML file -> a DomainDefinition, with libvirt's defaults and units
 * (formatdomain; measured against `virsh -c test:///default` where it answers, cited in
 * test/libvirt). Every element and attribute is either mapped, accepted with a note said once,
 * or refused by name with its line and column: nothing is dropped silently.
 */
import { randomUUID } from 'node:crypto';
import { cpus as hostCpus } from 'node:os';
import { CpusetError, parseCpuset } from './cpuset.js';
import type { DomainDefinition, DomainSerial, LifecycleAction } from './domain.js';
import { ElementReader, QEMU_NAMESPACE } from './element-reader.js';
import { scaledKibibytes, UnitError } from './units.js';
import { parseXml } from './xml-tree.js';

/** The largest size libvirt takes (its scaled integers are unsigned long long bytes). */
const MAX_BYTES = 2n ** 64n - 1n;
const LIFECYCLE_ACTIONS: readonly LifecycleAction[] = ['destroy', 'restart', 'preserve'];
/** The timers tsvisor has; the others may only be said absent. */
const TIMERS_TSVISOR_HAS = ['pit', 'hpet'];
const KNOWN_TIMERS = ['platform', 'pit', 'rtc', 'hpet', 'tsc', 'kvmclock', 'hypervclock', 'armvtimer'];

export function readDomain(text: string, file: string): DomainDefinition {
  const domain = new ElementReader(parseXml(text, file), file);
  if (domain.element.name !== 'domain' || domain.element.namespace !== '') {
    throw domain.fail(`<${domain.element.name}>`, 'a libvirt domain file holds one <domain> element.', "Start the file with <domain type='kvm'>.");
  }
  const type = domain.attribute('type');
  if (type !== 'kvm') {
    throw domain.fail(`<domain type='${type ?? ''}'>`, "tsvisor runs domains of type 'kvm' (guests under Linux KVM).", "Write <domain type='kvm'>.");
  }
  domain.attribute('id'); // dumpxml's id of a running domain: a new run gets its own
  const notes: string[] = [];

  const name = domain.child('name');
  if (!name || name.text === '') throw domain.fail('<domain>', 'the domain has no <name>.', 'Add one, such as <name>hello</name>: libvirt requires it.');
  const uuidElement = domain.child('uuid');
  const uuid = uuidElement ? readUuid(uuidElement) : undefined;
  domain.child('metadata')?.takeAll();
  const { memoryKib, currentMemoryKib, maxMemory } = readMemory(domain);
  const vcpus = readVcpus(domain);
  const vcpuPins = readCputune(domain, vcpus.maximum);
  const os = readOs(domain, notes);
  const features = readFeatures(domain);
  const cpu = readCpu(domain);
  const clock = readClock(domain, notes);
  const { serial, memballoon, emulator } = readDevices(domain, notes);
  const qemu = readQemuCommandline(domain);
  const title = domain.child('title')?.text;
  const description = domain.child('description')?.text;
  const onPoweroff = lifecycle(domain, 'on_poweroff', 'destroy');
  const onReboot = lifecycle(domain, 'on_reboot', 'restart');
  const onCrash = lifecycle(domain, 'on_crash', 'destroy');
  domain.finish();
  return {
    name: name.text,
    uuid: uuid ?? randomUUID(),
    uuidGenerated: uuid === undefined,
    title,
    description,
    memoryKib,
    currentMemoryKib,
    maxMemory,
    vcpus,
    vcpuPins,
    os,
    features,
    cpu,
    clock,
    onPoweroff,
    onReboot,
    onCrash,
    serial,
    memballoon,
    emulator,
    qemuArgs: qemu.args,
    qemuEnv: qemu.env,
    notes,
  };
}

function readUuid(element: ElementReader): string {
  const compact = element.text.replace(/-/g, '');
  if (!/^[0-9a-f]{32}$/i.test(compact)) throw element.fail('<uuid>', `'${element.text}' is not a UUID.`, 'Write one as 8-4-4-4-12 hex digits, or leave <uuid> out and tsvisor makes one.');
  const lower = compact.toLowerCase();
  return `${lower.slice(0, 8)}-${lower.slice(8, 12)}-${lower.slice(12, 16)}-${lower.slice(16, 20)}-${lower.slice(20)}`;
}

function size(element: ElementReader, what: string): bigint {
  try {
    return scaledKibibytes(element.text, element.attribute('unit'), MAX_BYTES);
  } catch (error) {
    if (!(error instanceof UnitError)) throw error;
    throw element.fail(what, `${error.message}.`, 'Give a whole number with a unit libvirt knows: b, KB, k/KiB, MB, M/MiB, GB, G/GiB, TB, T/TiB (KiB when there is none).');
  }
}

function readMemory(domain: ElementReader): Pick<DomainDefinition, 'memoryKib' | 'currentMemoryKib' | 'maxMemory'> {
  const memory = domain.child('memory');
  // libvirt's words (virsh define of a domain without <memory>).
  if (!memory) throw domain.fail('<domain>', 'Memory size must be specified via <memory> or in the <numa> configuration.', "Add <memory unit='MiB'>16</memory>.");
  const memoryKib = size(memory, '<memory>');
  if (memoryKib === 0n) throw memory.fail('<memory>', 'the guest needs some RAM.', "Give a size, such as <memory unit='MiB'>16</memory>.");
  memory.attribute('dumpCore');
  memory.finish();
  const current = domain.child('currentMemory');
  // libvirt clamps currentMemory to memory (virsh -c test:///default: 4096 over 1024 dumps as 1024).
  const currentMemoryKib = current ? minimum(size(current, '<currentMemory>'), memoryKib) : memoryKib;
  current?.finish();
  const max = domain.child('maxMemory');
  let maxMemory: DomainDefinition['maxMemory'];
  if (max) {
    const slots = integer(max, max.attribute('slots'), '<maxMemory slots>', 0);
    maxMemory = { kib: size(max, '<maxMemory>'), slots };
    if (maxMemory.kib < memoryKib) throw max.fail('<maxMemory>', 'the maximum memory is below <memory>.', 'Raise <maxMemory> or lower <memory>.');
    max.finish();
  }
  return { memoryKib, currentMemoryKib, maxMemory };
}

function readVcpus(domain: ElementReader): DomainDefinition['vcpus'] {
  const vcpu = domain.child('vcpu');
  const maximum = vcpu ? integer(vcpu, vcpu.text, '<vcpu>', 1) : 1;
  const currentText = vcpu?.attribute('current');
  const current = currentText === undefined || !vcpu ? maximum : integer(vcpu, currentText, `<vcpu current='${currentText}'>`, 1);
  if (vcpu && current > maximum) {
    // libvirt's words (virsh -c test:///default define).
    throw vcpu.fail(`<vcpu current='${current}'>`, 'unsupported configuration: maximum vCPU count must not be less than current vCPU count.', `Make current at most ${maximum}, or raise <vcpu>.`);
  }
  const placement = vcpu?.attribute('placement') ?? 'static';
  if (vcpu && placement !== 'static' && placement !== 'auto') throw vcpu.fail(`<vcpu placement='${placement}'>`, "placement is 'static' or 'auto'.", '');
  const cpusetText = vcpu?.attribute('cpuset');
  const cpuset = vcpu && cpusetText !== undefined ? hostCpuList(vcpu, cpusetText, `<vcpu cpuset='${cpusetText}'>`) : undefined;
  vcpu?.finish();
  return { maximum, current, placement: placement as 'static' | 'auto', cpuset };
}

function readCputune(domain: ElementReader, maximum: number): DomainDefinition['vcpuPins'] {
  const cputune = domain.child('cputune');
  if (!cputune) return [];
  const pins = cputune.children('vcpupin').map((pin) => {
    const vcpuText = pin.attribute('vcpu');
    const vcpu = integer(pin, vcpuText, `<vcpupin vcpu='${vcpuText ?? ''}'>`, 0);
    if (vcpu >= maximum) throw pin.fail(`<vcpupin vcpu='${vcpu}'>`, `the domain has ${maximum} vCPU${maximum === 1 ? '' : 's'} (0 to ${maximum - 1}).`, 'Pin a vCPU the domain has.');
    const text = pin.attribute('cpuset') ?? '';
    const cpus = hostCpuList(pin, text, `<vcpupin cpuset='${text}'>`);
    pin.finish();
    return { vcpu, cpus };
  });
  cputune.finish('tsvisor takes <vcpupin> in <cputune>.');
  return pins;
}

/** A libvirt CPU list, each CPU one this host has. */
function hostCpuList(element: ElementReader, text: string, what: string): number[] {
  let cpus: number[];
  try {
    cpus = parseCpuset(text);
  } catch (error) {
    if (!(error instanceof CpusetError)) throw error;
    throw element.fail(what, `${error.message}.`, "Write CPUs and ranges with commas, '^' to leave one out: 1-4,^3,6.");
  }
  const count = hostCpus().length;
  const missing = cpus.find((cpu) => cpu >= count);
  if (missing !== undefined) throw element.fail(what, `this host has CPUs 0 to ${count - 1}, and no CPU ${missing}.`, 'Name CPUs this host has.');
  return cpus;
}

function readOs(domain: ElementReader, notes: string[]): DomainDefinition['os'] {
  const os = domain.child('os');
  if (!os) throw domain.fail('<domain>', 'the domain has no <os>.', "Add <os><type arch='x86_64'>hvm</type><kernel>...</kernel></os>.");
  const type = os.child('type');
  if (!type || type.text !== 'hvm') throw os.fail('<os><type>', "tsvisor runs full virtual machines: the os type is 'hvm'.", "Write <type arch='x86_64'>hvm</type>.");
  const arch = type.attribute('arch') ?? 'x86_64';
  if (arch !== 'x86_64') throw type.fail(`<type arch='${arch}'>`, 'tsvisor runs x86_64 guests.', "Write arch='x86_64', or leave arch out.");
  const machine = type.attribute('machine');
  if (machine !== undefined && !/^(pc|q35)(-|$)/.test(machine)) throw type.fail(`<type machine='${machine}'>`, "tsvisor's machine is a PC: pc or q35 (and their versions, such as pc-i440fx-7.2 or pc-q35-7.2).", 'Use one of those, or leave machine out.');
  type.finish();
  if (os.child('nvram')) throw os.fail('<nvram>', 'tsvisor has no UEFI firmware, so there is no NVRAM to keep.', 'Leave <nvram> out and boot a kernel (<kernel>) or a legacy BIOS (<loader>).');
  const loader = os.child('loader');
  if (loader) {
    const loaderType = loader.attribute('type') ?? 'rom';
    const firmware = os.element.attributes.get('firmware')?.value;
    if (loaderType === 'pflash' || /OVMF|edk2|\.fd$/i.test(loader.text) || firmware === 'efi') {
      throw loader.fail('<loader>', 'this is UEFI firmware (OVMF), and tsvisor has no UEFI.', 'Boot the kernel directly with <kernel>, or give a legacy BIOS image.');
    }
    loader.attribute('readonly');
    loader.finish();
  }
  const bootDevices = os.children('boot').map((boot) => {
    const device = boot.attribute('dev') ?? '';
    boot.finish();
    return device;
  });
  if (bootDevices.length > 0) notes.push(`<os><boot dev='${bootDevices.join("'>, <boot dev='")}'>: tsvisor boots the kernel (or BIOS) it is given directly; the boot order is kept, not used.`);
  const bios = os.child('bios');
  const useSerial = bios?.attribute('useserial');
  bios?.attribute('rebootTimeout');
  bios?.finish();
  const bootMenu = os.child('bootmenu');
  const bootMenuEnabled = bootMenu?.attribute('enable');
  bootMenu?.attribute('timeout');
  bootMenu?.finish();
  if (bootMenu) notes.push('<os><bootmenu>: tsvisor has no boot menu; accepted and not used.');
  const smbios = os.child('smbios');
  const smbiosMode = smbios?.attribute('mode');
  smbios?.finish();
  if (smbios) notes.push('<os><smbios>: tsvisor gives the guest no SMBIOS tables; accepted and not used.');
  const kernel = os.child('kernel')?.text;
  const initrd = os.child('initrd')?.text;
  const cmdline = os.child('cmdline')?.text;
  if (kernel === undefined && loader === undefined) throw os.fail('<os>', 'there is nothing to boot: tsvisor boots a kernel directly (<kernel>) or a BIOS (<loader>), not disks.', 'Add <kernel>path/to/kernel.elf</kernel>.');
  os.finish();
  return {
    machine,
    loader: loader?.text,
    kernel,
    initrd,
    cmdline,
    bootDevices,
    biosUseSerial: useSerial === undefined ? undefined : useSerial === 'yes',
    bootMenu: bootMenuEnabled === undefined ? undefined : bootMenuEnabled === 'yes',
    smbiosMode,
  };
}

function readFeatures(domain: ElementReader): DomainDefinition['features'] {
  const features = domain.child('features');
  const has = (name: string) => {
    const feature = features?.child(name);
    feature?.finish();
    return feature !== undefined;
  };
  const result = { acpi: has('acpi'), apic: has('apic'), pae: has('pae') };
  features?.finish('tsvisor takes acpi, apic and pae here.');
  return result;
}

function readCpu(domain: ElementReader): DomainDefinition['cpu'] {
  const cpu = domain.child('cpu');
  if (!cpu) return { mode: undefined, features: [] };
  const mode = cpu.attribute('mode');
  if (mode !== undefined && !['host-passthrough', 'host-model', 'maximum', 'custom'].includes(mode)) throw cpu.fail(`<cpu mode='${mode}'>`, "the mode is host-passthrough, host-model, maximum or custom.", '');
  cpu.attribute('match');
  cpu.attribute('check');
  cpu.attribute('migratable');
  const model = cpu.child('model');
  if (model && model.text !== '' && !['host', 'max', 'qemu64'].includes(model.text)) {
    throw model.fail(`<model>${model.text}</model>`, "tsvisor's vCPUs are the host's CPU (what KVM supports), with features added or removed: it has no named CPU models.", "Use <cpu mode='host-passthrough'>, with <feature> elements.");
  }
  model?.attribute('fallback');
  model?.finish();
  const topology = cpu.child('topology');
  for (const key of ['sockets', 'dies', 'cores', 'threads']) topology?.attribute(key);
  topology?.finish();
  const features = cpu.children('feature').map((feature) => {
    const name = feature.attribute('name') ?? '';
    const policy = feature.attribute('policy') ?? 'require';
    if (!['require', 'force', 'disable', 'forbid', 'optional'].includes(policy)) throw feature.fail(`<feature policy='${policy}'>`, 'the policy is require, force, optional, disable or forbid.', '');
    feature.finish();
    return { name, policy };
  });
  cpu.finish();
  return { mode, features };
}

function readClock(domain: ElementReader, notes: string[]): DomainDefinition['clock'] {
  const clock = domain.child('clock');
  if (!clock) return { offset: 'utc', timers: [] };
  const offset = clock.attribute('offset') ?? 'utc';
  if (offset !== 'utc' && offset !== 'localtime') throw clock.fail(`<clock offset='${offset}'>`, "tsvisor has no real-time clock to set: the offset is 'utc' or 'localtime'.", '');
  const timers = clock.children('timer').map((timer) => {
    const name = timer.attribute('name') ?? '';
    if (!KNOWN_TIMERS.includes(name)) throw timer.fail(`<timer name='${name}'>`, `there is no timer '${name}'.`, `libvirt's timers are ${KNOWN_TIMERS.join(', ')}.`);
    const presentText = timer.attribute('present');
    const present = presentText === undefined ? undefined : presentText === 'yes';
    const tickpolicy = timer.attribute('tickpolicy');
    if (!TIMERS_TSVISOR_HAS.includes(name) && present !== false) {
      throw timer.fail(`<timer name='${name}'>`, `tsvisor's PC has no ${name} timer (it has the PIT and the HPET).`, `Write <timer name='${name}' present='no'/>, or leave it out.`);
    }
    if (tickpolicy !== undefined) notes.push(`<timer name='${name}' tickpolicy='${tickpolicy}'>: tsvisor's ${name.toUpperCase()} computes its counter from the host clock, so late ticks are delivered late (as 'delay'); the policy is kept, not applied.`);
    timer.finish();
    return { name, present, tickpolicy };
  });
  clock.finish();
  return { offset, timers };
}

function readDevices(domain: ElementReader, notes: string[]): Pick<DomainDefinition, 'serial' | 'memballoon' | 'emulator'> {
  const devices = domain.child('devices');
  if (!devices) return { serial: undefined, memballoon: undefined, emulator: undefined };
  const emulator = devices.child('emulator')?.text;
  if (emulator !== undefined) notes.push(`<emulator>${emulator}</emulator>: tsvisor is the emulator; the path is kept, not used.`);
  const ports = [...devices.children('serial'), ...devices.children('console')];
  let serial: DomainSerial | undefined;
  for (const port of ports) {
    const read = readSerial(port);
    // A console of target type serial is that same serial port (formatdomain, "Console").
    if (serial && JSON.stringify(serial) !== JSON.stringify(read)) throw port.fail(`<${port.element.name}>`, 'tsvisor has one serial port, COM1, and this device would be a second one.', 'Keep one <serial> (a <console> with the same source is that port).');
    serial ??= read;
  }
  const balloon = devices.child('memballoon');
  const memballoon = balloon?.attribute('model');
  if (balloon) {
    balloon.attribute('autodeflate');
    balloon.attribute('freePageReporting');
    balloon.finish();
  }
  devices.finish('tsvisor has COM1 (<serial>/<console>), and no disks, network or display.');
  return { serial, memballoon, emulator };
}

function readSerial(port: ElementReader): DomainSerial {
  const type = port.attribute('type') ?? 'pty';
  const source = port.child('source');
  const target = port.child('target');
  const targetType = target?.attribute('type');
  if (targetType !== undefined && targetType !== 'serial' && targetType !== 'isa-serial') {
    throw (target as ElementReader).fail(`<target type='${targetType}'>`, "tsvisor's console is its serial port: the target type is 'serial'.", "Write <target type='serial' port='0'/>.");
  }
  const targetPort = target?.attribute('port');
  if (targetPort !== undefined && targetPort !== '0') throw (target as ElementReader).fail(`<target port='${targetPort}'>`, 'tsvisor has one serial port, COM1: port 0.', "Write port='0'.");
  target?.child('model')?.attribute('name');
  target?.finish();
  port.child('alias')?.attribute('name');
  let serial: DomainSerial;
  const sourceAttribute = (name: string) => source?.attribute(name);
  const required = (name: string) => {
    const value = sourceAttribute(name);
    if (value === undefined) throw port.fail(`<${port.element.name} type='${type}'>`, `its <source> needs ${name}=.`, '');
    return value;
  };
  switch (type) {
    case 'pty':
    case 'stdio':
    case 'null':
      source?.attribute('path'); // a running domain's dumpxml names its pty
      serial = { type };
      break;
    case 'file':
      serial = { type, path: required('path'), append: sourceAttribute('append') === 'on' };
      break;
    case 'unix':
      serial = { type, path: required('path'), mode: connectOrBind(port, sourceAttribute('mode')) };
      break;
    case 'tcp':
      serial = { type, host: sourceAttribute('host') ?? '127.0.0.1', service: required('service'), mode: connectOrBind(port, sourceAttribute('mode')) };
      port.child('protocol')?.attribute('type');
      break;
    default:
      throw port.fail(`<${port.element.name} type='${type}'>`, `tsvisor's serial port has no '${type}' backend.`, 'Use pty, stdio, file, unix, tcp or null.');
  }
  source?.finish();
  port.finish();
  return serial;
}

function connectOrBind(port: ElementReader, mode: string | undefined): 'bind' | 'connect' {
  if (mode === undefined || mode === 'connect') return 'connect';
  if (mode === 'bind') return 'bind';
  throw port.fail(`<source mode='${mode}'>`, "the mode is 'bind' (tsvisor listens) or 'connect'.", '');
}

function readQemuCommandline(domain: ElementReader): { args: string[]; env: { name: string; value: string }[] } {
  const commandline = domain.child('commandline', QEMU_NAMESPACE);
  if (!commandline) return { args: [], env: [] };
  const args = commandline.children('arg', QEMU_NAMESPACE).map((arg) => {
    const value = arg.attribute('value');
    if (value === undefined) throw arg.fail('<qemu:arg>', 'it has no value=.', "Write <qemu:arg value='-S'/>.");
    arg.finish();
    return value;
  });
  const env = commandline.children('env', QEMU_NAMESPACE).map((variable) => {
    const name = variable.attribute('name');
    if (!name || !/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) throw variable.fail('<qemu:env>', `'${name ?? ''}' is not an environment variable's name.`, 'Names are letters, digits and _.');
    const value = variable.attribute('value') ?? '';
    variable.finish();
    return { name, value };
  });
  commandline.finish('tsvisor takes <qemu:arg> and <qemu:env> here.');
  return { args, env };
}

function lifecycle(domain: ElementReader, name: string, fallback: LifecycleAction): LifecycleAction {
  const element = domain.child(name);
  if (!element) return fallback;
  const action = element.text as LifecycleAction;
  if (!LIFECYCLE_ACTIONS.includes(action)) {
    throw element.fail(`<${name}>${element.text}</${name}>`, `tsvisor does ${LIFECYCLE_ACTIONS.join(', ')}.`, 'rename-restart and the coredump actions need a libvirt daemon.');
  }
  return action;
}

/** A whole number of at least `least` in an element's text or an attribute. */
function integer(element: ElementReader, text: string | undefined, what: string, least: number): number {
  const value = text !== undefined && /^\s*\d+\s*$/.test(text) ? Number(text) : Number.NaN;
  if (!(value >= least && value <= 0xffff_ffff)) throw element.fail(what, `'${text ?? ''}' is not a whole number${least > 0 ? ` of at least ${least}` : ''}.`, '');
  return value;
}

function minimum(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
