/**
 * QEMU's argv, as qemu-system-x86_64 7.2 reads it: options with one dash or two, each
 * followed by its argument as the next word; anything else is an error that names it, before
 * any file is opened. The result is a QemuInvocation: plain data, nothing run yet.
 */
import type { CpuFeatureSetting } from '../boot/cpu-features.js';
import { type ChardevDefinition, parseChardev, parseLegacyChannel, parseMon, parseSerial, serialError } from './chardev-options.js';
import { parseCpu } from './cpu-option.js';
import { DEBUG_EXIT_DEFAULTS, type DeviceGlobals, type DeviceRequest, parseDevice, parseFwCfg, parseGlobal } from './device-options.js';
import type { MachineType, MonitorRequest, QemuInvocation, QemuMachine, SerialChardev, WrittenOption } from './invocation.js';
import { parseKeyValues } from './keyval.js';
import { DEFAULT_RAM_SIZE, parseAccel, parseMachine, parseMemory, parseSmp } from './machine-options.js';
import { PROGRAM, QemuError } from './qemu-error.js';

/** The options tsvisor takes, and whether each has an argument. `--print-config` is tsvisor's own. */
const OPTIONS: Readonly<Record<string, boolean>> = {
  machine: true, M: true, accel: true, 'enable-kvm': false, cpu: true, m: true, smp: true,
  kernel: true, append: true, initrd: true, bios: true,
  nodefaults: false, nographic: false, display: true, serial: true, device: true, global: true, fw_cfg: true,
  'no-reboot': false, 'no-shutdown': false, S: false, name: true, uuid: true,
  qmp: true, monitor: true, mon: true, chardev: true,
  version: false, help: false, h: false, 'print-config': false,
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Occurrence {
  readonly name: string;
  readonly value: string;
}

/** Splits argv into options with their arguments, refusing what tsvisor does not take. */
function tokenize(args: readonly string[]): Occurrence[] {
  const occurrences: Occurrence[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i] as string;
    if (!word.startsWith('-') || word === '-') {
      throw new QemuError(undefined, `'${word}' is a disk image to QEMU (its hard disk 0), and tsvisor has no disks: it boots a kernel given with -kernel.`);
    }
    const name = word.replace(/^--?/, '');
    const hasArgument = OPTIONS[name];
    if (hasArgument === undefined) {
      throw new QemuError(word, 'tsvisor does not support this option (tsvisor qemu -h lists those it takes).');
    }
    if (!hasArgument) {
      occurrences.push({ name, value: '' });
      continue;
    }
    if (i + 1 >= args.length) throw new QemuError(word, 'requires an argument');
    occurrences.push({ name, value: args[++i] as string });
  }
  return occurrences;
}

export function parseCommandLine(args: readonly string[]): QemuInvocation {
  const occurrences = tokenize(args);
  const has = (...names: string[]) => occurrences.some((occurrence) => names.includes(occurrence.name));
  // Like QEMU, -help and -version act as soon as they are read, before any other option is checked.
  for (const { name } of occurrences) {
    if (name === 'help' || name === 'h') return { action: 'help' };
    if (name === 'version') return { action: 'version' };
  }
  const written: Partial<Record<WrittenOption, string>> = {};
  const writtenAs = (key: WrittenOption, name: string, value: string) => (written[key] = `-${name} ${value}`);

  let machine: MachineType = 'pc';
  let ramSize = DEFAULT_RAM_SIZE;
  let smp: string | undefined;
  let cpuFeatures: CpuFeatureSetting[] = [];
  const devices: { option: string; request: DeviceRequest }[] = [];
  const globals: DeviceGlobals = {};
  const serials: string[] = [];
  const chardevs = new Map<string, ChardevDefinition>();
  const monitors: MonitorRequest[] = [];
  const monOptions: string[] = [];
  const fwCfgFiles: QemuMachine['fwCfgFiles'][number][] = [];
  const single: Partial<Record<'kernel' | 'append' | 'initrd' | 'bios' | 'name' | 'uuid', string>> = {};

  for (const { name, value } of occurrences) {
    const option = `-${name} ${value}`;
    switch (name) {
      case 'machine':
      case 'M':
        if (value === 'help' || value === '?') return { action: 'machine-help' };
        machine = parseMachine(value) ?? machine;
        writtenAs('machine', name, value);
        break;
      case 'accel':
        parseAccel(value);
        break;
      case 'enable-kvm':
        break;
      case 'cpu':
        cpuFeatures = parseCpu(value);
        writtenAs('cpu', name, value);
        break;
      case 'm':
        ramSize = parseMemory(value);
        writtenAs('memory', name, value);
        break;
      case 'smp':
        smp = value;
        writtenAs('smp', name, value);
        break;
      case 'kernel':
      case 'append':
      case 'initrd':
      case 'bios':
        single[name] = value;
        writtenAs(name, name, value);
        break;
      case 'name': {
        const pairs = parseKeyValues('-name', value, 'guest');
        const unknown = pairs.find((pair) => !['guest', 'process', 'debug-threads'].includes(pair.key));
        if (unknown) throw new QemuError(option, `Invalid parameter '${unknown.key}'`);
        const guest = pairs.findLast((pair) => pair.key === 'guest')?.value;
        if (guest !== undefined) single.name = guest;
        writtenAs('name', name, value);
        break;
      }
      case 'uuid':
        if (!UUID.test(value)) throw new QemuError(option, 'failed to parse UUID string: wrong format');
        single.uuid = value.toLowerCase();
        break;
      case 'nodefaults':
      case 'nographic':
        break;
      case 'display': {
        const type = value.split(',')[0];
        if (type !== 'none') throw new QemuError(option, `tsvisor has no display: use -display none or -nographic (the guest's console is COM1, -serial).`);
        break;
      }
      case 'serial':
        // A -serial chardev:ID may name a -chardev given after it: resolved below.
        serials.push(value);
        break;
      case 'device': {
        const request = parseDevice(value);
        if (request.kind === 'help') return { action: 'device-help', device: request.device };
        devices.push({ option, request });
        break;
      }
      case 'global':
        parseGlobal(value, globals);
        break;
      case 'fw_cfg':
        fwCfgFiles.push({ option, file: parseFwCfg(value) });
        break;
      case 'chardev': {
        const chardev = parseChardev(value);
        if (chardevs.has(chardev.id)) throw new QemuError(option, `Duplicate ID '${chardev.id}' for chardev`);
        if (chardev.spec.backend === 'stdio' && [...chardevs.values()].some(({ spec }) => spec.backend === 'stdio')) {
          throw new QemuError(option, 'cannot use stdio by multiple character devices');
        }
        chardevs.set(chardev.id, chardev);
        break;
      }
      case 'mon':
        // A -mon may name a -chardev given after it: resolved below.
        monOptions.push(value);
        break;
      case 'qmp':
      case 'monitor': {
        const channel = parseLegacyChannel(`-${name}`, value);
        if (channel) monitors.push({ option, mode: name === 'qmp' ? 'control' : 'readline', pretty: false, channel });
        break;
      }
    }
  }
  for (const text of monOptions) monitors.push(parseMon(text, chardevs));

  if (single.kernel === undefined) {
    if (single.append !== undefined) throw new QemuError(undefined, '-append only allowed with -kernel option');
    if (single.initrd !== undefined) throw new QemuError(undefined, '-initrd only allowed with -kernel option');
  }
  const [firstSerial, secondSerial] = serials;
  if (secondSerial !== undefined) throw new QemuError(`-serial ${secondSerial}`, 'tsvisor has one serial port, COM1; a second -serial would be COM2.');
  // QEMU 7.2's defaults (vl.c): without -nodefaults, -serial and any monitor option, -nographic
  // shares the terminal between COM1 and the monitor (mon:stdio); with only one of them given,
  // the other gets the terminal alone. (Measured: -nographic -serial null greets with the
  // monitor; -nographic -qmp ... gives COM1 the terminal, Ctrl-A x unheard.)
  const defaultMonitor = !has('nodefaults') && monitors.length === 0;
  const defaultSerial = !has('nodefaults') && firstSerial === undefined;
  const nographic = has('nographic');
  let serial: SerialChardev;
  if (firstSerial !== undefined) serial = parseSerial(firstSerial, chardevs);
  else if (nographic && defaultSerial && defaultMonitor) serial = parseSerial('mon:stdio', chardevs);
  else serial = defaultSerialChardev(nographic && defaultSerial);
  if (serial.mux && serial.serialArgument !== undefined) monitors.push({ option: `-serial ${serial.serialArgument}`, mode: 'readline', pretty: false, channel: { kind: 'mux' } });
  else if (nographic && defaultMonitor) monitors.push({ option: '-nographic', mode: 'readline', pretty: false, channel: { kind: 'stdio' } });
  checkOneStdioUser(serial, monitors);
  // QEMU opens the -chardevs first: -serial stdio is then the second user of the terminal.
  if (serial.serialArgument !== undefined && serial.spec.backend === 'stdio' && [...chardevs.values()].some(({ spec }) => spec.backend === 'stdio')) {
    throw serialError(serial.serialArgument, 'cannot use stdio by multiple character devices');
  }
  return {
    action: 'run',
    printConfig: has('print-config'),
    machine: {
      machine,
      ramSize,
      ...(smp === undefined ? { cpus: 1, maxCpus: 1 } : parseSmp(smp, machine)),
      cpuFeatures,
      kernel: single.kernel,
      append: single.append,
      initrd: single.initrd,
      bios: single.bios,
      serial,
      debugExits: devices.flatMap(({ option, request }) =>
        request.kind === 'isa-debug-exit' ? [{ option, ...DEBUG_EXIT_DEFAULTS, ...globals, ...request.properties }] : [],
      ),
      pcTestdev: devices.some(({ request }) => request.kind === 'pc-testdev'),
      fwCfgFiles,
      name: single.name,
      uuid: single.uuid,
      noReboot: has('no-reboot'),
      noShutdown: has('no-shutdown'),
      startPaused: has('S'),
      monitors,
      written,
    },
  };
}

/**
 * The terminal has one user, unless they share it through a mux: QEMU opens the monitors
 * first, then says COM1 cannot have stdio too (QEMU 7.2: -nographic -serial stdio, and
 * -nographic -monitor stdio, whose default COM1 is the terminal).
 */
function checkOneStdioUser(serial: SerialChardev, monitors: readonly MonitorRequest[]): void {
  const monitorOnStdio = monitors.filter((monitor) => monitor.channel.kind === 'stdio');
  const [first, second] = monitorOnStdio;
  if (second) throw new QemuError(second.option, 'cannot use stdio by multiple character devices');
  if (!first || serial.spec.backend !== 'stdio' || serial.mux) return;
  if (serial.serialArgument !== undefined) throw serialError(serial.serialArgument, 'cannot use stdio by multiple character devices');
  throw new QemuError(undefined, `cannot use stdio by multiple character devices\n${PROGRAM}: could not connect serial device to character backend 'stdio'`);
}

/**
 * QEMU's serial port without -serial, where no monitor shares it: on the terminal (-nographic
 * with a monitor option given), in a graphical console otherwise, and absent with -nodefaults;
 * tsvisor's COM1 is always there, and its output goes nowhere where QEMU's has no terminal.
 */
function defaultSerialChardev(onTerminal: boolean): SerialChardev {
  const spec = onTerminal ? ({ backend: 'stdio', signal: true } as const) : ({ backend: 'null' } as const);
  return { spec, label: 'serial0', option: undefined, serialArgument: undefined };
}
