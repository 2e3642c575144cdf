import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { loadVmConfig } from '../../src/config/load-config.js';

const REPO = resolve(import.meta.dirname, '../..');
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-config-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

writeFileSync(join(folder, 'kernel.bin'), new Uint8Array(0x100));

const VALID = `[base]
id = 7
name = "test"
vm_type = 1
cpu_num = 1

[kernel]
entry_point = 0x8000
image_location = "memory"
kernel_path = "kernel.bin"
kernel_load_addr = 0x8000
memory_regions = [
    [0x0, 0x100_0000, 0x7, 0],
]

[devices]
emu_devices = []
passthrough_devices = []
`;

function configFile(text: string): string {
  const path = join(folder, `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(path, text);
  return path;
}

function errorOf(text: string): ConfigError {
  const path = configFile(text);
  try {
    loadVmConfig(path);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadVmConfig', () => {
  it('reads the hello config into a VmSpec', () => {
    const spec = loadVmConfig(join(REPO, 'configs/hello-x86_64.toml'));
    expect(spec).toEqual({
      configPath: join(REPO, 'configs/hello-x86_64.toml'),
      id: 1,
      name: 'hello',
      vmType: 1,
      cpuCount: 1,
      memoryRegions: [{ gpa: 0, size: 0x100_0000, flags: 0x7, mapType: 0 }],
      kernel: { path: join(REPO, 'guests/build/hello.bin'), loadAddress: 0x8000 },
      entryPoint: 0x8000,
      unmodelledDevices: [],
      warnings: [],
    });
  });

  it('resolves image paths relative to the config file', () => {
    expect(loadVmConfig(configFile(VALID)).kernel.path).toBe(join(folder, 'kernel.bin'));
  });

  it('names a missing config file and where the examples are', () => {
    expect(() => loadVmConfig('/nonexistent/vm.toml')).toThrow(
      '/nonexistent/vm.toml: the config file does not exist (looked for /nonexistent/vm.toml). Give the path of an AxVisor VM config (TOML); the examples are in the configs/ folder of tsvisor, for example configs/hello-x86_64.toml.',
    );
  });

  it('locates a TOML syntax error by line and column', () => {
    const error = errorOf(VALID.replace('cpu_num = 1', 'cpu_num = = 1'));
    expect(error.location).toEqual({ line: 5, column: 11 });
    expect(error.message).toMatch(/:5:11: this is not valid TOML: .+\. Fix the syntax there;/);
  });

  it('reports a missing required key at its table, with the key path', () => {
    const error = errorOf(VALID.replace('kernel_path = "kernel.bin"\n', ''));
    expect(error.keyPath).toBe('kernel.kernel_path');
    expect(error.location).toEqual({ line: 7, column: 1 });
    expect(error.message).toContain('kernel.kernel_path: this required key is missing. Add `kernel_path = ...` to the [kernel] table.');
  });

  it('reports a wrong type at the key', () => {
    const error = errorOf(VALID.replace('cpu_num = 1', 'cpu_num = "one"'));
    expect(error.location).toEqual({ line: 5, column: 1 });
    expect(error.message).toContain('base.cpu_num: expected an integer, found the string "one".');
  });

  it('reports a value out of range', () => {
    expect(errorOf(VALID.replace('cpu_num = 1', 'cpu_num = 0')).message).toContain('base.cpu_num: 0 is out of range: expected 1 to 255.');
  });

  it('reports a missing kernel image with the path it looked at', () => {
    const error = errorOf(VALID.replace('kernel.bin', 'missing.bin'));
    expect(error.location).toEqual({ line: 10, column: 1 });
    expect(error.message).toContain(`kernel.kernel_path: the image does not exist (looked for ${join(folder, 'missing.bin')}).`);
  });

  it('reports an image that does not fit in RAM', () => {
    expect(errorOf(VALID.replace('kernel_load_addr = 0x8000', 'kernel_load_addr = 0xffff80')).message).toContain(
      'kernel.kernel_load_addr: the image (256 bytes) would occupy 0xffff80-0x100007f, which is not inside one memory region.',
    );
  });

  it('reports an entry point above 1 MiB, which real mode cannot reach', () => {
    expect(errorOf(VALID.replace('entry_point = 0x8000', 'entry_point = 0x200000')).message).toContain(
      'kernel.entry_point: 0x200000 is above 1 MiB: tsvisor starts vCPU 0 in real mode',
    );
  });

  it('reports unaligned and overlapping memory regions, and unsupported map types', () => {
    expect(errorOf(VALID.replace('[0x0, 0x100_0000, 0x7, 0]', '[0x0, 0x100_0800, 0x7, 0]')).message).toContain(
      'kernel.memory_regions[0]: base 0x0 and size 0x1000800 must be non-zero multiples of 4 KiB.',
    );
    expect(errorOf(VALID.replace('[0x0, 0x100_0000, 0x7, 0],', '[0x0, 0x100_0000, 0x7, 0], [0x80_0000, 0x1000, 0x7, 0],')).message).toContain(
      'kernel.memory_regions[1]: this region overlaps memory_regions[0].',
    );
    expect(errorOf(VALID.replace('[0x0, 0x100_0000, 0x7, 0]', '[0x0, 0x100_0000, 0x7, 2]')).message).toContain(
      'kernel.memory_regions[0][3]: map_type 2 is not supported by this version of tsvisor',
    );
    expect(errorOf(VALID.replace('[0x0, 0x100_0000, 0x7, 0]', '[0x0, 0x100_0000, 0x7]')).message).toContain(
      'kernel.memory_regions[0]: expected [base_gpa, size, flags, map_type], found an array of 3.',
    );
  });

  it('reports a missing table', () => {
    expect(errorOf(VALID.replace('[devices]\nemu_devices = []\npassthrough_devices = []\n', '')).message).toContain(
      'devices: the [devices] table is missing.',
    );
  });

  it('warns about devices it does not model yet and about extra vCPUs', () => {
    const spec = loadVmConfig(
      configFile(
        VALID.replace('cpu_num = 1', 'cpu_num = 2').replace(
          'passthrough_devices = []',
          'passthrough_devices = [["IO APIC", 0xfec0_0000, 0xfec0_0000, 0x1000, 0x1]]',
        ),
      ),
    );
    expect(spec.unmodelledDevices).toEqual([{ keyPath: 'devices.passthrough_devices[0]', name: 'IO APIC', gpa: 0xfec00000, length: 0x1000 }]);
    expect(spec.warnings).toEqual([
      'base.cpu_num = 2: this version of tsvisor runs vCPU 0 (the bootstrap processor) only; application processors need INIT/SIPI from the Local APIC, which it does not emulate yet.',
      'devices.passthrough_devices[0] (IO APIC at 0xfec00000): this version of tsvisor does not emulate this device yet; guest accesses to it are unassigned (reads return all ones).',
    ]);
  });

  it('refuses a BIOS it cannot boot yet rather than ignoring it', () => {
    expect(errorOf(VALID.replace('kernel_path', 'bios_path = "axvm-bios.bin"\nkernel_path')).message).toContain(
      'kernel.bios_path: this version of tsvisor cannot boot through a BIOS',
    );
  });
});
