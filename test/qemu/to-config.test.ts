/**
 * A QEMU command line's config document, and the VmSpec the config readers make of it: the
 * same as the one `tsvisor check` makes of the --print-config TOML (deep-equal, but for
 * configPath), the PC QEMU describes, and errors that name the option that set the key.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import { configToml } from '../../src/qemu/print-config.js';
import { tsvisor } from '../helpers/tsvisor.js';
import { configOf, errorOf, specOf } from './front-end.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qemu-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const BENCH = 'guests/build/bench.elf32';



/** The VmSpec `tsvisor check` makes of --print-config's TOML. */
function specOfPrintedConfig(args: readonly string[]): VmSpec {
  const file = join(folder, `config-${Math.random().toString(36).slice(2)}.toml`);
  writeFileSync(file, configToml(configOf(args).document, ['a test']));
  return loadVmConfig(file);
}


const withoutPath = ({ configPath: _path, ...spec }: VmSpec) => spec;

describe('--print-config', () => {
  const commandLines: readonly (readonly string[])[] = [
    ['-kernel', BENCH],
    ['-kernel', BENCH, '-append', 'ops=none', '-initrd', 'guests/build/ramdisk.bin', '-m', '64', '-smp', '2', '-M', 'q35', '-name', 'bench'],
    ['-kernel', BENCH, '-initrd', 'guests/build/ramdisk.bin arg "quoted",package.json x=1,,2'],
    ['-kernel', BENCH, '-device', 'isa-debug-exit', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-device', 'pc-testdev'],
    ['-kernel', BENCH, '-fw_cfg', 'name=opt/a,string=text "quoted"\ttab', '-fw_cfg', 'opt/b,file=package.json', '-cpu', 'host,-avx,+sse4.2,-kvmclock'],
    ['-kernel', 'guests/build/elf64.elf', '-m', '4G'],
    ['-kernel', 'guests/build/hello.bin', '-append', 'unused'],
    ['-kernel', 'guests/build/axtest.bin', '-bios', 'guests/build/axvm-style-bios.bin'],
  ];

  it.each(commandLines)('makes the VmSpec the QEMU front end makes: %j', (...args) => {
    expect(withoutPath(specOfPrintedConfig(args))).toEqual(withoutPath(specOf(args)));
  });

  it('writes the config a reader can follow: the sections, hex addresses, tsvisor\'s own table', () => {
    const toml = configToml(configOf(['-kernel', BENCH, '-m', '16', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']).document, ['header']);
    expect(toml).toBe(`# header

[base]
id = 1
name = "bench.elf32"
vm_type = 1
cpu_num = 1

[kernel]
entry_point = 0x200000
image_location = "memory"
kernel_path = ${JSON.stringify(resolve(BENCH))}
kernel_load_addr = 0x200000
memory_regions = [
    [0, 0x1000000, 7, 0],
]
cmdline = "${BENCH} "

[devices]
emu_devices = [
    ["x86-pit", 64, 34, 0, 36, []],
]
passthrough_devices = [
    ["IO APIC", 0xfec00000, 0xfec00000, 0x1000, 0],
    ["HPET", 0xfed00000, 0xfed00000, 0x1000, 0],
]

[tsvisor]
debug_exit = [
    [244, 4],
]
`);
  });

  it('heads the config with the command line as a shell reads it back, each argument quoted as it needs, on one comment line', async () => {
    const printed = await tsvisor(['qemu', '--print-config', '-kernel', BENCH, '-append', "it's\nok", '-initrd', 'guests/build/ramdisk.bin a  b', '-name', '']);
    expect(printed.status).toBe(0);
    expect(printed.stdout.split('\n')[0]).toBe(`# tsvisor's config for: tsvisor-qemu -kernel ${BENCH} -append $'it\\'s\\x0aok' -initrd 'guests/build/ramdisk.bin a  b' -name ''`);
    const file = join(folder, 'quoted.toml');
    writeFileSync(file, printed.stdout);
    expect(loadVmConfig(file).boot.cmdline).toBe(`${BENCH} it's\nok`);
  });
});

describe('the PC a QEMU command line describes', () => {
  it('boots a multiboot kernel directly, with QEMU\'s command line: the kernel\'s file name, a space, -append', () => {
    const spec = specOf(['-kernel', BENCH, '-append', 'ops=none']);
    expect(spec.boot).toMatchObject({ method: 'direct', kernelFormat: 'multiboot', cpuMode: 'protected', cmdline: `${BENCH} ops=none` });
  });

  it('has RAM from 0, split at QEMU\'s low-memory limit: 3 GiB on pc, 2 GiB on q35, the rest from 4 GiB', () => {
    const regions = (args: string[]) => specOf(['-kernel', BENCH, ...args]).memoryRegions.map(({ gpa, size }) => [gpa, size]);
    expect(regions([])).toEqual([[0, 128 * 2 ** 20]]);
    expect(regions(['-m', '3.5G'])).toEqual([[0, 3 * 2 ** 30], [4 * 2 ** 30, 0.5 * 2 ** 30]]);
    expect(regions(['-m', '3G', '-M', 'q35'])).toEqual([[0, 2 * 2 ** 30], [4 * 2 ** 30, 2 ** 30]]);
    expect(regions(['-m', '2G', '-M', 'q35'])).toEqual([[0, 2 * 2 ** 30]]);
  });

  it('has a PC\'s devices: the IO APIC, HPET and PIT with its interrupt; debug-exit only where -device puts it', () => {
    const devices = (args: string[]) => specOf(['-kernel', BENCH, ...args]).devices.map(({ kind, base, length }) => `${kind} ${base.toString(16)}+${length}`);
    const plain = devices([]);
    expect(plain).toEqual(expect.arrayContaining(['uart-16550 3f8+8', 'io-apic fec00000+4096', 'hpet fed00000+4096', 'pit 40+4', 'fw-cfg 510+2']));
    expect(plain.filter((device) => device.startsWith('debug-exit'))).toEqual([]);
    expect(devices(['-device', 'isa-debug-exit']).filter((device) => device.startsWith('debug-exit'))).toEqual(['debug-exit 501+2']);
    expect(devices(['-device', 'pc-testdev']).filter((device) => device.startsWith('pc-testdev'))).toEqual([
      'pc-testdev-ioport e0+4', 'pc-testdev-flush-page e4+4', 'pc-testdev-ioport-byte e8+4', 'pc-testdev-irq-line 2000+24', 'pc-testdev-iomem ff000000+65536',
    ]);
  });

  it('carries -smp, -name, -cpu, -fw_cfg and -initrd into the VmSpec', () => {
    const spec = specOf(['-kernel', BENCH, '-smp', '3', '-name', 'vm', '-cpu', 'host,-avx', '-fw_cfg', 'opt/x,string=y', '-initrd', 'guests/build/ramdisk.bin']);
    expect(spec).toMatchObject({ cpuCount: 3, name: 'vm', cpuFeatures: [{ name: 'avx', enabled: false }] });
    expect(spec.devices.find((device) => device.kind === 'fw-cfg')?.fwCfgFiles).toEqual([{ name: 'opt/x', string: 'y' }]);
    // The module follows the kernel, page-aligned, as QEMU's modules do (multiboot-modules.test.ts has several).
    const kernelEnd = Math.max(...(spec.images.find((image) => image.role === 'kernel')?.segments ?? []).map((segment) => segment.gpa + segment.memSize));
    expect(spec.images.find((image) => image.role === 'module')?.segments[0]?.gpa).toBe(Math.ceil(kernelEnd / 0x1000) * 0x1000);
  });

  it('places a flat kernel at 0x8000, started there in real mode, and an ELF64 one by its headers in long mode', () => {
    expect(specOf(['-kernel', 'guests/build/hello.bin']).boot).toMatchObject({ cpuMode: 'real', entryPoint: 0x8000, kernelFormat: 'flat' });
    expect(specOf(['-kernel', 'guests/build/elf64.elf']).boot).toMatchObject({ cpuMode: 'long', kernelFormat: 'elf64' });
  });
});

describe('errors', () => {
  it('a missing kernel in QEMU\'s words; no kernel at all', () => {
    expect(errorOf(['-kernel', '/nonexist'])).toBe("could not open kernel file '/nonexist': No such file or directory");
    expect(errorOf(['-m', '16'])).toMatch(/^no -kernel given: tsvisor boots a kernel image given with -kernel/);
  });

  it('a Linux bzImage is refused: tsvisor does not speak the Linux boot protocol', () => {
    const bzImage = new Uint8Array(0x400);
    bzImage.set(new TextEncoder().encode('HdrS'), 0x202);
    writeFileSync(join(folder, 'bzImage'), bzImage);
    expect(errorOf(['-kernel', join(folder, 'bzImage')])).toMatch(/is a Linux kernel \(bzImage\)/);
  });

  it('the config readers\' errors name the option that set the key', () => {
    expect(errorOf(['-kernel', BENCH, '-m', '1'])).toMatch(/^-kernel guests\/build\/bench.elf32: segment 0 of the kernel image .* is not inside one RAM region/);
    expect(errorOf(['-kernel', BENCH, '-device', 'isa-debug-exit,iobase=0x3f8'])).toMatch(/^-device isa-debug-exit,iobase=0x3f8: debug-exit .* overlaps COM1/);
    expect(errorOf(['-kernel', BENCH, '-fw_cfg', 'etc/e820,string=x'])).toMatch(/^-fw_cfg etc\/e820,string=x: fw_cfg already has a file named "etc\/e820"/);
    expect(errorOf(['-kernel', BENCH, '-initrd', 'guests/build/ramdisk.bin,b.bin'])).toBe("Failed to open file 'b.bin'");
    expect(errorOf(['-kernel', BENCH, '-initrd', '/nonexist'])).toBe("Failed to open file '/nonexist'");
    expect(errorOf(['-kernel', BENCH, '-bios', '/nonexist'])).toBe("could not load PC BIOS '/nonexist'");
  });
});
