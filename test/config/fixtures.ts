/** A valid config, a folder to write variants of it in, and the host facts the tests assume. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import type { HostFacts } from '../../src/host/cpu.js';

/** Two CPUs and 48-bit physical addresses, whatever the machine running the tests has. */
export const HOST: HostFacts = { cpus: [0, 1], physicalAddressBits: 48 };

export const folder = mkdtempSync(join(tmpdir(), 'tsvisor-config-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
writeFileSync(join(folder, 'kernel.bin'), new Uint8Array(0x100).fill(0x90));
writeFileSync(join(folder, 'bios.bin'), new Uint8Array(0x200).fill(0xf4));

/** Line numbers matter: the error tests point into this text. */
export const VALID = `[base]
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

let counter = 0;
export function configFile(text: string, name = `config-${counter++}.toml`): string {
  const path = join(folder, name);
  writeFileSync(path, text);
  return path;
}

export function load(text: string, host: HostFacts = HOST): VmSpec {
  return loadVmConfig(configFile(text), host);
}

export function errorOf(text: string, host: HostFacts = HOST): ConfigError {
  try {
    load(text, host);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}
