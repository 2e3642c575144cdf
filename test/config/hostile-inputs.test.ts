/**
 * Issue 15's findings on the paths that run before KVM is touched, one regression test each:
 * non-regular files refused before they are read, sizes checked before bytes, regions checked
 * in n log n without spreading them into a call, and check refusing what run cannot load.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { ConfigSource } from '../../src/config/config-source.js';
import { MAX_CONFIG_BYTES, loadVmConfig, vmSpecOf } from '../../src/config/load-config.js';
import { locateToml } from '../../src/config/toml-locations.js';
import { fifoFolder } from '../helpers/fifo.js';
import { firstClusterOf, freeCluster, makeFatImage } from '../helpers/fat-image.js';
import { elfImage } from '../helpers/images.js';
import { HOST, VALID, configFile, errorOf, folder } from './fixtures.js';

const fifos = fifoFolder('tsvisor-hostile-');
afterAll(fifos.remove);
const fifo = join(fifos.path, 'pipe');
execFileSync('mkfifo', [fifo]);
const subfolder = join(folder, 'a-folder');
mkdirSync(subfolder);

/** The ConfigError of loading the config at `path`. */
function errorAt(path: string): ConfigError {
  try {
    loadVmConfig(path, HOST);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

const NOT_REGULAR = [
  { name: 'a FIFO', path: fifo, kind: 'is a FIFO (named pipe), not a regular file' },
  { name: 'a device', path: '/dev/zero', kind: 'is a character device, not a regular file' },
  { name: 'a folder', path: subfolder, kind: 'is a folder, not a regular file' },
];

describe('paths that are not regular files are refused before they are read', () => {
  it.each(NOT_REGULAR)('a config path that is $name', ({ path, kind }) => {
    const error = errorAt(path);
    expect(error.message).toContain(`${path}: the config file ${kind}`);
  });

  it.each(NOT_REGULAR)('a kernel_path that is $name, named with its key', ({ path, kind }) => {
    const error = errorOf(VALID.replace('"kernel.bin"', JSON.stringify(path)));
    expect(error.keyPath).toBe('kernel.kernel_path');
    expect(error.problem).toContain(`the image ${path} ${kind}`);
  });

  it.each(NOT_REGULAR)('a disk_path that is $name, named with its key', ({ path, kind }) => {
    const error = errorOf(VALID.replace('image_location = "memory"', `image_location = "fs"\ndisk_path = ${JSON.stringify(path)}`));
    expect(error.keyPath).toBe('kernel.disk_path');
    expect(error.problem).toContain(`${path}: the disk image ${kind}`);
  });

  it.each(NOT_REGULAR)('an fw_cfg file that is $name, named with its key', ({ path, kind }) => {
    const error = errorOf(`${VALID}\n[tsvisor]\nfw_cfg = [{ name = "opt/x", file = ${JSON.stringify(path)} }]\n`);
    expect(error.keyPath).toBe('tsvisor.fw_cfg[0].file');
    expect(error.problem).toContain(`cannot read ${path}: it ${kind}`);
  });
});

describe('sizes are checked before bytes are read', () => {
  /** A sparse file of `size` bytes: reading it whole would take that much memory. */
  function sparse(name: string, size: number, head: Uint8Array = new Uint8Array(0)): string {
    const path = join(folder, name);
    writeFileSync(path, head);
    truncateSync(path, size);
    return path;
  }
  /** Bytes of ArrayBuffers allocated during `run`: a file read whole would show here. */
  function allocatedBy(run: () => void): number {
    const before = process.memoryUsage().arrayBuffers;
    run();
    return process.memoryUsage().arrayBuffers - before;
  }

  it(`a config over ${MAX_CONFIG_BYTES} bytes (here 8 GiB) is refused by its size, unread`, () => {
    const path = sparse('huge.toml', 8 * 2 ** 30);
    let error: ConfigError | undefined;
    expect(allocatedBy(() => (error = errorAt(path)))).toBeLessThan(2 ** 20);
    expect(error?.problem).toBe(`the config file is ${8 * 2 ** 30} bytes, more than the ${MAX_CONFIG_BYTES} bytes tsvisor reads for a config.`);
  });

  it('a 2 GiB flat kernel for 16 MiB of RAM is refused by its size, unread', () => {
    sparse('huge-kernel.bin', 2 ** 31 - 1, new Uint8Array(16).fill(0x90));
    let error: ConfigError | undefined;
    expect(allocatedBy(() => (error = errorOf(VALID.replace('"kernel.bin"', '"huge-kernel.bin"'))))).toBeLessThan(2 ** 20);
    expect(error?.keyPath).toBe('kernel.kernel_load_addr');
    expect(error?.problem).toBe('the kernel image (2147483647 bytes) would occupy 0x8000-0x80007ffe, which is not inside one RAM region (RAM: 0x0-0xffffff).');
  });

  it('an ELF kernel of 3 GiB is refused by its size, unread', () => {
    sparse('huge-elf.bin', 3 * 2 ** 30, elfImage());
    const error = errorOf(VALID.replace('"kernel.bin"', '"huge-elf.bin"'));
    expect(error.problem).toBe(`the image ${join(folder, 'huge-elf.bin')} is ${3 * 2 ** 30} bytes, more than the 2147483647 bytes (2 GiB - 1) tsvisor loads.`);
  });
});

describe('memory regions in number', () => {
  const regions = (count: number) =>
    ['[0x0, 0x100_0000, 0x7, 0],', ...Array.from({ length: count }, (_, i) => `[0x${(2 ** 32 + i * 0x2000).toString(16)},0x1000,7,0],`)].join('\n');

  it('30,000 regions in a config validate (sorted, then checked against their neighbours)', () => {
    const spec = loadVmConfig(configFile(VALID.replace('[0x0, 0x100_0000, 0x7, 0],', regions(30_000))), HOST);
    expect(spec.memoryRegions).toHaveLength(30_001);
  });

  it('130,000 regions (more than a config file holds: a document built in memory) do not overflow the stack', () => {
    const text = VALID.replace('[0x0, 0x100_0000, 0x7, 0],', regions(130_000));
    const source = new ConfigSource('many.toml', join(folder, 'many.toml'), parse(text, { integersAsBigInt: true }), locateToml(text));
    expect(vmSpecOf(source, HOST).memoryRegions).toHaveLength(130_001);
  });

  it('30,000 regions packed below 4 GiB leave the real-mode area few obstacles to step over', () => {
    // 4 KiB regions 16 KiB apart: each gap is 12 KiB, too small for KVM's 16 KiB area, so its search would step over every one.
    const packed = Array.from({ length: 30_000 }, (_, i) => `[0x${(0xffff_f000 - i * 0x4000).toString(16)},0x1000,7,0],`).join('\n');
    const spec = loadVmConfig(configFile(VALID.replace('[0x0, 0x100_0000, 0x7, 0],', `[0x0, 0x100_0000, 0x7, 0],\n${packed}`)), HOST);
    // The highest 16 KiB-aligned window below the lowest of them.
    const lowest = 0xffff_f000 - 29_999 * 0x4000;
    expect(spec.kvmRealModeArea).toBe(Math.floor((lowest - 0x4000) / 0x4000) * 0x4000);
  });

  it('a warning about many regions names a handful and counts the rest', () => {
    const noExecute = Array.from({ length: 20 }, (_, i) => `[0x${(2 ** 32 + i * 0x2000).toString(16)},0x1000,3,0],`).join('\n');
    const spec = loadVmConfig(configFile(VALID.replace('[0x0, 0x100_0000, 0x7, 0],', `[0x0, 0x100_0000, 0x7, 0],\n${noExecute}`)), HOST);
    const named = Array.from({ length: 8 }, (_, i) => `memory_regions[${i + 1}]`).join(', ');
    expect(spec.warnings).toContainEqual(expect.stringContaining(`kernel.memory_regions[1]: ${named} and 12 more regions ask for no-execute or uncached memory`));
  });

  it('an overlap among many regions names both', () => {
    const text = VALID.replace('[0x0, 0x100_0000, 0x7, 0],', `${regions(1000)}\n[0x${(2 ** 32 + 500 * 0x2000).toString(16)},0x1000,7,0],`);
    const error = errorOf(text);
    expect(error.keyPath).toBe('kernel.memory_regions[1001]');
    expect(error.problem).toBe('this region (0x1003e8000-0x1003e8fff) overlaps memory_regions[501] (0x1003e8000-0x1003e8fff).');
  });
});

describe('long lists validate in n log n', () => {
  it('28,000 multiboot modules are placed (RAM searched by address, overlaps found by sorting)', () => {
    writeFileSync(join(folder, 'one.bin'), 'x');
    const modules = Array.from({ length: 28_000 }, (_, i) => `{path="one.bin",load_addr=0x${(0x20_0000 + 2 * i).toString(16)}}`).join(',');
    const spec = loadVmConfig(configFile(`${VALID}\n[tsvisor]\nmodules = [${modules}]\n`), HOST);
    expect(spec.images.filter((image) => image.role === 'module')).toHaveLength(28_000);
  });

  it('an empty module inside another image is still an overlap', () => {
    writeFileSync(join(folder, 'empty.bin'), '');
    const error = errorOf(`${VALID}\n[tsvisor]\nmodules = [{path="empty.bin",load_addr=0x8010}]\n`);
    expect(error.problem).toBe(`the module ${join(folder, 'empty.bin')} (0x8010) overlaps the kernel image (0x8000-0x80ff).`);
  });

  it('20,000 debug-exit ports are placed (devices sorted per bus, RAM searched by address)', () => {
    const ports = Array.from({ length: 20_000 }, (_, i) => `[${0x1000 + i},1]`).join(',');
    const spec = loadVmConfig(configFile(`${VALID}\n[tsvisor]\ndebug_exit = [${ports}]\n`), HOST);
    expect(spec.devices.filter((device) => device.kind === 'debug-exit')).toHaveLength(20_000);
    const clash = errorOf(`${VALID}\n[tsvisor]\ndebug_exit = [${ports},[0x2000,2]]\n`);
    expect(clash.keyPath).toBe('tsvisor.debug_exit[20000]');
    expect(clash.problem).toBe('debug-exit (isa-debug-exit at 0x2000) at I/O ports 0x2000-0x2001 overlaps debug-exit (isa-debug-exit at 0x2000) at I/O ports 0x2000-0x2000 (tsvisor.debug_exit[4096]).');
  });

  it('30,000 passthrough ports, each found in the emulated device that covers it by address', () => {
    const ports = Array.from({ length: 30_000 }, (_, i) => `[${0x1000 + i},1]`).join(',');
    const text = `${VALID.replace('passthrough_devices = []', `passthrough_devices = []\npassthrough_ports = [${ports}]`)}\n[tsvisor]\ndebug_exit = [${ports}]\n`;
    expect(loadVmConfig(configFile(text), HOST).warnings.filter((warning) => warning.includes('devices.passthrough_ports['))).toHaveLength(30_000);
    // Two ports, each a device of its own: no one device covers both.
    const error = errorOf(text.replace(`passthrough_ports = [[${0x1000},1]`, `passthrough_ports = [[${0x1000},2]`));
    expect(error.keyPath).toBe('devices.passthrough_ports[0]');
  });

  it('38,000 fw_cfg files are named uniquely (a set of names, not a search per entry)', () => {
    const files = Array.from({ length: 38_000 }, (_, i) => `{name="o/${i}",string=""}`).join(',');
    expect(loadVmConfig(configFile(`${VALID}\n[tsvisor]\nfw_cfg = [${files}]\n`), HOST).devices.find((device) => device.kind === 'fw-cfg')?.fwCfgFiles).toHaveLength(38_000);
  });
});

describe('pathological TOML', () => {
  it('nesting past smol-toml\'s depth limit is a syntax error at its place', () => {
    const error = errorOf(`a = ${'['.repeat(5000)}${']'.repeat(5000)}\n${VALID}`);
    expect(error.location).toEqual({ line: 1, column: 1005 });
    expect(error.problem).toBe('this is not valid TOML: document contains excessively nested structures. aborting.');
  });

  it('a megabyte-long unknown key is warned about, without a did-you-mean', () => {
    const key = 'k'.repeat(1_000_000);
    const spec = loadVmConfig(configFile(VALID.replace('[kernel]\n', `[kernel]\n${key} = 1\n`)), HOST);
    expect(spec.warnings).toContainEqual(expect.stringMatching(/: tsvisor does not know this key and ignores it, as AxVisor does\.$/));
  });
});

describe('check refuses every image run cannot load', () => {
  it('a FAT32 ramdisk with a broken cluster chain fails check, as it fails run', () => {
    const image = makeFatImage(folder, 'broken.img', { '/kernel.bin': new Uint8Array(0x100).fill(0x90), '/RAMDISK.BIN': new Uint8Array(4096).fill(7) });
    freeCluster(image, firstClusterOf(image, 'RAMDISK BIN') + 2);
    const error = errorOf(
      VALID.replace('image_location = "memory"', 'image_location = "fs"\ndisk_path = "broken.img"\nramdisk_path = "/RAMDISK.BIN"\nramdisk_load_addr = 0x80_0000'),
    );
    expect(error.keyPath).toBe('kernel.ramdisk_path');
    expect(error.problem).toMatch(/cannot be read: .*the cluster chain of the file \/RAMDISK\.BIN is broken: the FAT entry of cluster \d+ is 0x0, which marks a free cluster\./);
  });
});
