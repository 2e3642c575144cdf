/**
 * Reads an AxVisor VM config (TOML: [base], [kernel], [devices]) into a VmSpec, checking
 * every value it uses before anything touches KVM. Errors name the file, line and column,
 * the key path, what was found and how to fix it.
 */
import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { TomlError, parse, type TomlTable } from 'smol-toml';
import { hex } from '../errors.js';
import { ConfigError } from './config-error.js';
import { locateKey } from './key-locations.js';
import {
  MapType,
  MemoryFlag,
  type ImageSpec,
  type MemoryRegionSpec,
  type UnmodelledDeviceSpec,
  type VmSpec,
} from './vm-spec.js';

/** Real mode reaches the first MiB only. */
const REAL_MODE_LIMIT = 0x10_0000;
const PAGE_SIZE = 0x1000;
/** x86-64 physical addresses have at most 52 bits. */
const PHYSICAL_ADDRESS_LIMIT = 2 ** 52;
const MAX_VCPUS = 255;

/** Keys a config may hold that this version reads but does not act on: each is a warning. */
const IGNORED_KERNEL_KEYS = ['cmdline', 'dtb_path', 'dtb_load_addr', 'ramdisk_path', 'ramdisk_load_addr', 'disk_path'];
/** Keys that change how the guest boots, which this version cannot honour: each is an error. */
const UNSUPPORTED_KERNEL_KEYS = ['bios_path', 'bios_load_addr', 'enable_bios', 'boot_protocol'];

export function loadVmConfig(path: string): VmSpec {
  const file = resolve(path);
  const source = readConfigSource(path, file);
  let document: TomlTable;
  try {
    document = parse(source, { integersAsBigInt: true });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const problem = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '') ?? 'invalid TOML';
    throw new ConfigError(
      path,
      { line: error.line, column: error.column },
      undefined,
      `this is not valid TOML: ${problem}.`,
      'Fix the syntax there; an AxVisor config is a TOML file with [base], [kernel] and [devices] tables.',
    );
  }
  return new ConfigReader(path, file, source, document).read();
}

function readConfigSource(path: string, file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const problem =
      code === 'ENOENT'
        ? `the config file does not exist (looked for ${file}).`
        : code === 'EISDIR'
          ? 'this is a folder, not a config file.'
          : `the config file cannot be read (${code ?? String(error)}).`;
    throw new ConfigError(
      path,
      undefined,
      undefined,
      problem,
      'Give the path of an AxVisor VM config (TOML); the examples are in the configs/ folder of tsvisor, for example configs/hello-x86_64.toml.',
    );
  }
}

type Table = Record<string, unknown>;

class ConfigReader {
  private readonly warnings: string[] = [];

  constructor(
    private readonly displayPath: string,
    private readonly file: string,
    private readonly source: string,
    private readonly document: TomlTable,
  ) {}

  read(): VmSpec {
    const base = this.table('base');
    const kernel = this.table('kernel');
    const devices = this.table('devices');

    const cpuCount = this.integer(base, 'base', 'cpu_num', { min: 1, max: MAX_VCPUS });
    if (cpuCount > 1) {
      this.warnings.push(
        `base.cpu_num = ${cpuCount}: this version of tsvisor runs vCPU 0 (the bootstrap processor) only; application processors need INIT/SIPI from the Local APIC, which it does not emulate yet.`,
      );
    }
    for (const key of UNSUPPORTED_KERNEL_KEYS) {
      if (key in kernel) {
        throw this.error('kernel', key, `this version of tsvisor cannot boot through a BIOS or choose a boot protocol yet (${key} is set).`, `Remove ${key} and point entry_point at real-mode code in the kernel image itself, as configs/hello-x86_64.toml does.`);
      }
    }
    for (const key of IGNORED_KERNEL_KEYS) {
      if (key in kernel) this.warnings.push(`kernel.${key} is ignored: this version of tsvisor does not pass ${key.replace(/_.*/, '')} data to the guest yet.`);
    }
    if ('image_location' in kernel) {
      const location = this.string(kernel, 'kernel', 'image_location');
      if (location !== 'fs' && location !== 'memory') {
        throw this.error('kernel', 'image_location', `expected "fs" or "memory", found ${JSON.stringify(location)}.`, 'Both read the image from the host file system: use "memory".');
      }
    }

    const memoryRegions = this.memoryRegions(kernel);
    const kernelImage = this.image(kernel, 'kernel_path', 'kernel_load_addr', memoryRegions);
    const entryPoint = this.integer(kernel, 'kernel', 'entry_point', { max: PHYSICAL_ADDRESS_LIMIT - 1 });
    if (entryPoint >= REAL_MODE_LIMIT) {
      throw this.error(
        'kernel',
        'entry_point',
        `${hex(entryPoint)} is above 1 MiB: tsvisor starts vCPU 0 in real mode at entry_point, as AxVisor does, and real mode reaches only the first MiB.`,
        'Point entry_point at real-mode code below 0x100000 (a stub that switches to protected or long mode, like the one at the start of the guests in guests/).',
      );
    }
    if (!memoryRegions.some((region) => entryPoint >= region.gpa && entryPoint < region.gpa + region.size)) {
      throw this.error('kernel', 'entry_point', `${hex(entryPoint)} is not inside any memory region.`, 'Point it into the image loaded at kernel_load_addr.');
    }

    return {
      configPath: this.file,
      id: this.integer(base, 'base', 'id', { min: 0 }),
      name: this.string(base, 'base', 'name'),
      vmType: this.integer(base, 'base', 'vm_type', { min: 0, max: 2 }),
      cpuCount,
      memoryRegions,
      kernel: kernelImage,
      entryPoint,
      unmodelledDevices: this.unmodelledDevices(devices),
      warnings: this.warnings,
    };
  }

  private memoryRegions(kernel: Table): MemoryRegionSpec[] {
    const entries = this.array(kernel, 'kernel', 'memory_regions');
    if (entries.length === 0) {
      throw this.error('kernel', 'memory_regions', 'the list is empty: the guest needs RAM.', 'Add a region such as [0x0, 0x100_0000, 0x7, 0] (16 MiB of RAM at 0).');
    }
    const regions = entries.map((entry, index) => {
      const keyPath = `memory_regions[${index}]`;
      const fields = this.tuple(entry, 'kernel', keyPath, ['base_gpa', 'size', 'flags', 'map_type']);
      const [gpa, size, flags, mapType] = fields.map((value, field) =>
        this.toInteger(value, 'kernel', `${keyPath}[${field}]`, { max: PHYSICAL_ADDRESS_LIMIT }),
      ) as [number, number, number, number];
      if (gpa % PAGE_SIZE !== 0 || size % PAGE_SIZE !== 0 || size === 0) {
        throw this.error('kernel', keyPath, `base ${hex(gpa)} and size ${hex(size)} must be non-zero multiples of 4 KiB.`, 'Round the region to whole 4 KiB pages.');
      }
      if (gpa + size > PHYSICAL_ADDRESS_LIMIT) {
        throw this.error('kernel', keyPath, `the region ends above the 52-bit physical address limit.`, 'Move or shrink it.');
      }
      if (mapType !== MapType.alloc) {
        throw this.error('kernel', `${keyPath}[3]`, `map_type ${mapType} is not supported by this version of tsvisor (only 0, MAP_ALLOC).`, 'Use map_type 0 for guest RAM.');
      }
      if ((flags & (MemoryFlag.read | MemoryFlag.write)) !== (MemoryFlag.read | MemoryFlag.write)) {
        throw this.error('kernel', `${keyPath}[2]`, `flags ${hex(flags)} lack READ (0x1) or WRITE (0x2); this version of tsvisor maps guest RAM read-write only.`, 'Use flags 0x7 (read, write, execute).');
      }
      return { gpa, size, flags, mapType } satisfies MemoryRegionSpec;
    });
    regions.forEach((region, index) => {
      const clash = regions.findIndex(
        (other, otherIndex) => otherIndex < index && region.gpa < other.gpa + other.size && other.gpa < region.gpa + region.size,
      );
      if (clash >= 0) {
        throw this.error('kernel', `memory_regions[${index}]`, `this region overlaps memory_regions[${clash}].`, 'Make the regions disjoint.');
      }
    });
    return regions;
  }

  private image(kernel: Table, pathKey: string, addressKey: string, regions: readonly MemoryRegionSpec[]): ImageSpec {
    const path = resolve(dirname(this.file), this.string(kernel, 'kernel', pathKey));
    let size: number;
    try {
      const stats = statSync(path);
      if (!stats.isFile()) throw Object.assign(new Error('not a file'), { code: 'EISDIR' });
      size = stats.size;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw this.error(
        'kernel',
        pathKey,
        code === 'ENOENT' ? `the image does not exist (looked for ${path}).` : `the image cannot be read (${path}: ${code ?? String(error)}).`,
        'Relative paths are relative to the config file\'s folder. The guests in guests/ are built by `npm install` (or `npm run build:guests`).',
      );
    }
    const loadAddress = this.integer(kernel, 'kernel', addressKey, { max: PHYSICAL_ADDRESS_LIMIT - 1 });
    const fits = regions.some((region) => loadAddress >= region.gpa && loadAddress + size <= region.gpa + region.size);
    if (!fits) {
      throw this.error(
        'kernel',
        addressKey,
        `the image (${size} bytes) would occupy ${hex(loadAddress)}-${hex(loadAddress + size - 1)}, which is not inside one memory region.`,
        'Load it where a memory region has room for all of it, or enlarge the region.',
      );
    }
    return { path, loadAddress };
  }

  private unmodelledDevices(devices: Table): UnmodelledDeviceSpec[] {
    const found: UnmodelledDeviceSpec[] = [];
    const emulated = this.array(devices, 'devices', 'emu_devices');
    const passthrough = this.array(devices, 'devices', 'passthrough_devices');
    emulated.forEach((entry, index) => {
      const keyPath = `devices.emu_devices[${index}]`;
      const [name, gpa, length] = this.tuple(entry, 'devices', `emu_devices[${index}]`, ['name', 'base_gpa', 'length', 'irq_id', 'emu_type', 'config_list']);
      found.push({ keyPath, name: String(name), gpa: Number(gpa), length: Number(length) });
    });
    passthrough.forEach((entry, index) => {
      const keyPath = `devices.passthrough_devices[${index}]`;
      const fields = Array.isArray(entry) ? entry : [];
      found.push({ keyPath, name: String(fields[0] ?? '?'), gpa: Number(fields[1] ?? 0), length: Number(fields[3] ?? 0) });
    });
    for (const device of found) {
      this.warnings.push(
        `${device.keyPath} (${device.name} at ${hex(device.gpa)}): this version of tsvisor does not emulate this device yet; guest accesses to it are unassigned (reads return all ones).`,
      );
    }
    return found;
  }

  private table(name: string): Table {
    const value = this.document[name];
    if (value === undefined) {
      throw new ConfigError(this.displayPath, undefined, name, `the [${name}] table is missing.`, 'An AxVisor VM config has three tables: [base], [kernel] and [devices]; see configs/hello-x86_64.toml.');
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw this.error('', name, `expected a table, found ${describe(value)}.`, `Write it as a [${name}] section.`);
    }
    return value as Table;
  }

  private required(table: Table, tableName: string, key: string): unknown {
    const value = table[key];
    if (value === undefined) {
      throw this.error(tableName, key, 'this required key is missing.', `Add \`${key} = ...\` to the [${tableName}] table.`);
    }
    return value;
  }

  private integer(table: Table, tableName: string, key: string, range: { min?: number; max?: number }): number {
    return this.toInteger(this.required(table, tableName, key), tableName, key, range);
  }

  private toInteger(value: unknown, tableName: string, keyPath: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number }): number {
    if (typeof value !== 'bigint') {
      throw this.error(tableName, keyPath, `expected an integer, found ${describe(value)}.`, 'Write a whole number, in decimal or hex (0x20_0000).');
    }
    if (value < BigInt(min) || value > BigInt(max)) {
      throw this.error(tableName, keyPath, `${value} is out of range: expected ${min} to ${max}.`, 'Use a value in that range.');
    }
    return Number(value);
  }

  private string(table: Table, tableName: string, key: string): string {
    const value = this.required(table, tableName, key);
    if (typeof value !== 'string') {
      throw this.error(tableName, key, `expected a string, found ${describe(value)}.`, 'Quote the value: key = "value".');
    }
    return value;
  }

  private array(table: Table, tableName: string, key: string): unknown[] {
    const value = this.required(table, tableName, key);
    if (!Array.isArray(value)) {
      throw this.error(tableName, key, `expected an array, found ${describe(value)}.`, 'Write a list in brackets, possibly empty: [].');
    }
    return value;
  }

  private tuple(value: unknown, tableName: string, keyPath: string, fieldNames: readonly string[]): unknown[] {
    if (!Array.isArray(value) || value.length !== fieldNames.length) {
      throw this.error(tableName, keyPath, `expected [${fieldNames.join(', ')}], found ${describe(value)}.`, `Give all ${fieldNames.length} fields in that order.`);
    }
    return value;
  }

  /** An error located at `table.keyPath` (the line of the key the path starts with). */
  private error(tableName: string, keyPath: string, problem: string, fix: string): ConfigError {
    const key = keyPath.replace(/\[.*$/, '');
    const location = tableName ? locateKey(this.source, tableName, key) : locateKey(this.source, key);
    return new ConfigError(this.displayPath, location, tableName ? `${tableName}.${keyPath}` : keyPath, problem, fix);
  }
}

function describe(value: unknown): string {
  if (typeof value === 'bigint') return `the integer ${value}`;
  if (typeof value === 'number') return `the float ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value && typeof value === 'object') return 'a table';
  return String(value);
}
