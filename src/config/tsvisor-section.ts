/**
 * [tsvisor]: tsvisor's own keys, for machines QEMU's command line describes and the
 * axvmconfig schema cannot (AxVisor ignores a table it does not know). Every key is optional:
 *
 *   debug_exit   = [[0x501, 2]]   isa-debug-exit devices, [iobase, iosize] each: a write of v
 *                                 to any of their ports ends the VM with status (v << 1) | 1.
 *                                 Without the key, the one at 0xf4 (4 ports) every tsvisor VM
 *                                 has; [] for none, as on a QEMU PC without -device isa-debug-exit.
 *   pc_testdev   = true           QEMU's pc-testdev (devices/pc-testdev.ts).
 *   fw_cfg       = [{ name = "opt/x", string = "text" }, { name = "opt/y", file = "y.bin" }]
 *                                 files in fw_cfg's directory, from a string or a host file
 *                                 (relative to the config's folder), as QEMU's -fw_cfg.
 *   cpu_features = ["-avx", "+pdpe1gb"]
 *                                 CPU features by QEMU's names (boot/cpu-features.ts): "-" turns
 *                                 one off, "+" asks for it (set where KVM supports it).
 *   modules      = [{ path = "m.bin", load_addr = 0x20_6000, cmdline = "m.bin arg" }]
 *                                 multiboot modules, read with the images (multiboot-modules.ts).
 *   current_cpus = 1              how many of base.cpu_num's vCPUs the guest may start (libvirt's
 *                                 <vcpu current>, QEMU's -smp cpus below maxcpus): the others are
 *                                 off the APIC bus until raised at run time (setvcpus --live).
 */
import { accessSync, constants } from 'node:fs';
import { resolve } from 'node:path';
import { canonicalFeatureName, cannotEnable, type CpuFeatureSetting } from '../boot/cpu-features.js';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_WIDTH } from '../devices/debug-exit.js';
import {
  PC_TESTDEV_FLUSH_PAGE, PC_TESTDEV_IOMEM, PC_TESTDEV_IOMEM_SIZE, PC_TESTDEV_IOPORT, PC_TESTDEV_IOPORT_BYTE, PC_TESTDEV_IRQ_LINE_COUNT,
  PC_TESTDEV_IRQ_LINES, PC_TESTDEV_REGISTER_WIDTH,
} from '../devices/pc-testdev.js';
import { hex } from '../errors.js';
import { InputFileError, regularFileSize } from '../host/regular-file.js';
import { MAX_IMAGE_BYTES } from '../images/read-image.js';
import { isTable, type ConfigSource, type Table } from './config-source.js';
import type { DeviceSpec, FwCfgFileSpec } from './vm-spec.js';

export const TSVISOR_KEYS = ['debug_exit', 'pc_testdev', 'fw_cfg', 'cpu_features', 'modules', 'current_cpus'] as const;

/** fw_cfg file names are at most 55 bytes: the directory entry holds 56 with the NUL (QEMU's docs/specs/fw_cfg.rst). */
const FW_CFG_NAME_MAX = 55;
/** The files tsvisor's fw_cfg has itself. */
const FW_CFG_OWN_FILES = ['etc/e820'];
const IO_PORT_END = 0x1_0000;

export interface TsvisorSection {
  /** The debug-exit devices, replacing the platform's one at 0xf4. */
  readonly debugExits: readonly DeviceSpec[];
  /** pc-testdev's ranges, when it is asked for. */
  readonly pcTestdev: readonly DeviceSpec[];
  readonly fwCfgFiles: readonly FwCfgFileSpec[];
  readonly cpuFeatures: readonly CpuFeatureSetting[];
}

export function readTsvisorSection(source: ConfigSource): TsvisorSection {
  const value = source.document.tsvisor;
  const table: Table = value === undefined ? {} : isTable(value) ? value : {};
  if (value !== undefined && !isTable(value)) throw source.error('tsvisor', 'expected a table.', 'Write it as a [tsvisor] section.');
  return {
    debugExits: table.debug_exit === undefined ? [platformDebugExit()] : readDebugExits(source, table.debug_exit),
    pcTestdev: table.pc_testdev !== undefined && source.boolean(table.pc_testdev, 'tsvisor.pc_testdev') ? pcTestdevDevices() : [],
    fwCfgFiles: table.fw_cfg === undefined ? [] : readFwCfgFiles(source, table.fw_cfg),
    cpuFeatures: table.cpu_features === undefined ? [] : readCpuFeatures(source, table.cpu_features),
  };
}

/** tsvisor.current_cpus: from 1 to cpu_num; cpu_num when absent. */
export function readCurrentCpus(source: ConfigSource, cpuCount: number): number {
  const value = source.document.tsvisor;
  if (!isTable(value) || value.current_cpus === undefined) return cpuCount;
  return source.integer(value.current_cpus, 'tsvisor.current_cpus', { min: 1, max: cpuCount });
}

function platformDebugExit(): DeviceSpec {
  return { kind: 'debug-exit', name: 'debug-exit (isa-debug-exit)', bus: 'io', base: DEBUG_EXIT_PORT, length: DEBUG_EXIT_WIDTH, irq: undefined, origin: 'platform' };
}

function readDebugExits(source: ConfigSource, value: unknown): DeviceSpec[] {
  return source.array(value, 'tsvisor.debug_exit').map((entry, index) => {
    const path = `tsvisor.debug_exit[${index}]`;
    const [baseValue, sizeValue] = source.tuple(entry, path, ['iobase', 'iosize']);
    const base = source.integer(baseValue, `${path}[0]`, { max: IO_PORT_END - 1 });
    const length = source.integer(sizeValue, `${path}[1]`, { min: 1, max: IO_PORT_END - base });
    return { kind: 'debug-exit', name: `debug-exit (isa-debug-exit at ${hex(base)})`, bus: 'io', base, length, irq: undefined, origin: path };
  });
}

function pcTestdevDevices(): DeviceSpec[] {
  const origin = 'tsvisor.pc_testdev';
  const io = (kind: DeviceSpec['kind'], name: string, base: number, length: number): DeviceSpec => ({ kind, name: `pc-testdev ${name}`, bus: 'io', base, length, irq: undefined, origin });
  return [
    io('pc-testdev-ioport', 'ioport', PC_TESTDEV_IOPORT, PC_TESTDEV_REGISTER_WIDTH),
    io('pc-testdev-flush-page', 'flush-page', PC_TESTDEV_FLUSH_PAGE, PC_TESTDEV_REGISTER_WIDTH),
    io('pc-testdev-ioport-byte', 'ioport-byte', PC_TESTDEV_IOPORT_BYTE, PC_TESTDEV_REGISTER_WIDTH),
    io('pc-testdev-irq-line', 'irq-line', PC_TESTDEV_IRQ_LINES, PC_TESTDEV_IRQ_LINE_COUNT),
    { kind: 'pc-testdev-iomem', name: 'pc-testdev iomem', bus: 'mmio', base: PC_TESTDEV_IOMEM, length: PC_TESTDEV_IOMEM_SIZE, irq: undefined, origin },
  ];
}

function readFwCfgFiles(source: ConfigSource, value: unknown): FwCfgFileSpec[] {
  const files: FwCfgFileSpec[] = [];
  // A Set, not a search of the list per entry: 38,000 entries fit in a config, and the search took a minute.
  const names = new Set<string>(FW_CFG_OWN_FILES);
  source.array(value, 'tsvisor.fw_cfg').forEach((entry, index) => {
    const path = `tsvisor.fw_cfg[${index}]`;
    if (!isTable(entry)) throw source.error(path, 'expected a table such as { name = "opt/x", string = "text" }.', 'Give each file as { name = ..., string = ... } or { name = ..., file = ... }.');
    const unknown = Object.keys(entry).find((key) => !['name', 'string', 'file'].includes(key));
    if (unknown) throw source.error(`${path}.${unknown}`, `an fw_cfg file has no key ${unknown}.`, 'Give name, and one of string or file.');
    const name = source.string(source.required(entry, path, 'name'), `${path}.name`);
    if (name.length === 0 || Buffer.byteLength(name) > FW_CFG_NAME_MAX) {
      throw source.error(`${path}.name`, `the name is ${Buffer.byteLength(name)} bytes: fw_cfg names are 1 to ${FW_CFG_NAME_MAX} bytes.`, 'Shorten it; QEMU\'s convention is "opt/<vendor>/<item>".');
    }
    if (names.has(name)) {
      throw source.error(`${path}.name`, `fw_cfg already has a file named ${JSON.stringify(name)}.`, 'Give each file a name of its own.');
    }
    if ((entry.string === undefined) === (entry.file === undefined)) {
      throw source.error(path, 'an fw_cfg file needs exactly one of string and file.', 'Give the contents as string = "..." or the host file as file = "path".');
    }
    names.add(name);
    if (entry.string !== undefined) {
      files.push({ name, string: source.string(entry.string, `${path}.string`) });
      return;
    }
    const file = resolve(source.folder, source.string(entry.file, `${path}.file`));
    let size: number;
    try {
      accessSync(file, constants.R_OK);
      size = regularFileSize(file);
    } catch (error) {
      const why = error instanceof InputFileError ? `: it ${error.problem}` : '';
      throw source.error(`${path}.file`, `cannot read ${file}${why}.`, 'Point it at a readable file (relative paths are relative to the config\'s folder).');
    }
    // Read whole when the VM is built: refused here by its size, before a byte is read.
    if (size > MAX_IMAGE_BYTES) {
      throw source.error(`${path}.file`, `${file} is ${size} bytes, more than the ${MAX_IMAGE_BYTES} bytes (2 GiB - 1) tsvisor loads.`, 'Point it at the file the guest should see.');
    }
    files.push({ name, file });
  });
  return files;
}

function readCpuFeatures(source: ConfigSource, value: unknown): CpuFeatureSetting[] {
  const settings = new Map<string, { enabled: boolean; path: string }>();
  source.array(value, 'tsvisor.cpu_features').forEach((entry, index) => {
    const path = `tsvisor.cpu_features[${index}]`;
    const text = source.string(entry, path);
    const sign = text[0];
    const name = canonicalFeatureName(text.slice(1));
    if ((sign !== '+' && sign !== '-') || name === undefined) {
      throw source.error(path, `expected "+feature" or "-feature" with a feature QEMU's x86 CPUs have, found ${JSON.stringify(text)}.`, 'Use QEMU\'s names, as in "-avx" or "+pdpe1gb" (qemu-system-x86_64 -cpu help lists them).');
    }
    const enabled = sign === '+';
    const why = enabled ? cannotEnable(name) : undefined;
    if (why) throw source.error(path, `${name} cannot be turned on: ${why}.`, `Remove "${text}".`);
    const earlier = settings.get(name);
    if (earlier && earlier.enabled !== enabled) throw source.error(path, `${name} is turned ${enabled ? 'on' : 'off'} here and ${earlier.enabled ? 'on' : 'off'} at ${earlier.path}.`, 'Keep one of them.');
    settings.set(name, { enabled, path });
  });
  return [...settings].map(([name, { enabled }]) => ({ name, enabled })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
