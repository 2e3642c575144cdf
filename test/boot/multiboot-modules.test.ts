/**
 * Multiboot modules from a TOML config ([tsvisor] modules, after kernel.ramdisk_path): what
 * the VmSpec holds, the module list the multiboot information gives the kernel (Multiboot
 * 0.6.96 section 3.3), located errors for bad entries, and a boot of guests/mb-modules, which
 * prints the list it finds.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MBI_MODULES, MULTIBOOT_INFO_AREA, buildMultibootInfo, multibootInputsOf } from '../../src/boot/multiboot-info.js';
import { REPO, outcomeOf, tsvisor } from '../helpers/tsvisor.js';
import { describeKvm } from '../helpers/kvm.js';
import { VALID, configFile, errorOf, folder, load } from '../config/fixtures.js';
import { LAYOUT_OK, moduleLine } from './mb-modules-output.js';

writeFileSync(join(folder, 'one.txt'), 'module one\n');
writeFileSync(join(folder, 'two.bin'), new Uint8Array(0x1800).fill(0xab));
writeFileSync(join(folder, 'empty.bin'), '');

const withModules = (body: string, kernelExtra = '') => `${VALID.replace('kernel_load_addr = 0x8000', `kernel_load_addr = 0x8000${kernelExtra}`)}\n[tsvisor]\n${body}\n`;
const TWO_MODULES = `modules = [
    { path = "one.txt", load_addr = 0x10_0000, cmdline = "one.txt --verbose" },
    { path = "two.bin", load_addr = 0x10_1000 },
]`;

describe('[tsvisor] modules', () => {
  it('are images in order, each with its string (the path as written when cmdline is not given)', () => {
    const spec = load(withModules(TWO_MODULES));
    expect(spec.images.filter((image) => image.role === 'module').map(({ keyPath, addressKey, source, size, segments, moduleString }) => ({ keyPath, addressKey, source, size, segments, moduleString }))).toEqual([
      { keyPath: 'tsvisor.modules[0].path', addressKey: 'tsvisor.modules[0].load_addr', source: { kind: 'host', path: join(folder, 'one.txt') }, size: 11, segments: [{ gpa: 0x10_0000, offset: 0, fileSize: 11, memSize: 11 }], moduleString: 'one.txt --verbose' },
      { keyPath: 'tsvisor.modules[1].path', addressKey: 'tsvisor.modules[1].load_addr', source: { kind: 'host', path: join(folder, 'two.bin') }, size: 0x1800, segments: [{ gpa: 0x10_1000, offset: 0, fileSize: 0x1800, memSize: 0x1800 }], moduleString: 'two.bin' },
    ]);
  });

  it('follow the ramdisk in the multiboot information\'s module list, which gives each its range and string', () => {
    const spec = load(withModules(TWO_MODULES, '\nramdisk_path = "two.bin"\nramdisk_load_addr = 0x20_0000'));
    const inputs = multibootInputsOf(spec);
    expect(inputs.modules).toEqual([
      { start: 0x20_0000, end: 0x20_1800, name: 'two.bin' },
      { start: 0x10_0000, end: 0x10_000b, name: 'one.txt --verbose' },
      { start: 0x10_1000, end: 0x10_2800, name: 'two.bin' },
    ]);
    const bytes = buildMultibootInfo(inputs);
    const view = new DataView(bytes.buffer);
    const u32 = (offset: number) => view.getUint32(offset, true);
    const string = (address: number) => new TextDecoder().decode(bytes.subarray(address - MULTIBOOT_INFO_AREA.base, bytes.indexOf(0, address - MULTIBOOT_INFO_AREA.base)));
    expect(u32(0) & MBI_MODULES).toBe(MBI_MODULES);
    expect(u32(20)).toBe(3); // mods_count
    const entries = u32(24) - MULTIBOOT_INFO_AREA.base; // mods_addr
    expect([0, 1, 2].map((i) => [u32(entries + i * 16), u32(entries + i * 16 + 4), string(u32(entries + i * 16 + 8)), u32(entries + i * 16 + 12)])).toEqual([
      [0x20_0000, 0x20_1800, 'two.bin', 0],
      [0x10_0000, 0x10_000b, 'one.txt --verbose', 0],
      [0x10_1000, 0x10_2800, 'two.bin', 0],
    ]);
  });

  it('may be written as [[tsvisor.modules]] tables, and may be empty files', () => {
    const spec = load(`${VALID}\n[[tsvisor.modules]]\npath = "empty.bin"\nload_addr = 0x10_0000\n`);
    expect(multibootInputsOf(spec).modules).toEqual([{ start: 0x10_0000, end: 0x10_0000, name: 'empty.bin' }]);
  });

  it('a kernel that gets no multiboot information has them loaded, with a warning', () => {
    const spec = load(withModules(TWO_MODULES));
    expect(spec.boot.kernelFormat).toBe('flat');
    expect(spec.warnings).toEqual([expect.stringMatching(/:21:11: tsvisor\.modules: the modules are loaded, but the flat kernel gets no multiboot information: the kernel must find them itself\.$/)]);
  });
});

describe('[tsvisor] modules errors name the line, the key and the fix', () => {
  it.each([
    ['modules = "one.txt"', /:21:11: tsvisor\.modules: expected an array, found the string "one.txt"\./],
    ['modules = ["one.txt"]', /:21:12: tsvisor\.modules\[0\]: expected a table such as \{ path = "module\.bin", load_addr = 0x20_6000 \}\. Give each module as/],
    ['modules = [{ load_addr = 0x10_0000 }]', /tsvisor\.modules\[0\]\.path: this required key is missing\. Add `path = \.\.\.` to the \[tsvisor\.modules\[0\]\] table\./],
    ['modules = [{ path = "one.txt" }]', /tsvisor\.modules\[0\]\.load_addr: this required key is missing\./],
    ['modules = [{ path = "one.txt", load_addr = 0x10_0000, args = "x" }]', /:21:62: tsvisor\.modules\[0\]\.args: a module has no key args\. Give path, load_addr and, optionally, cmdline\./],
    ['modules = [{ path = "one.txt", load_addr = 0x10_0000, cmdline = 7 }]', /tsvisor\.modules\[0\]\.cmdline: expected a string, found the integer 7\./],
    ['modules = [{ path = "one.txt", load_addr = 0x10_0000, cmdline = "a\\u0000b" }]', /tsvisor\.modules\[0\]\.cmdline: the string holds a NUL character/],
    ['modules = [{ path = "missing.bin", load_addr = 0x10_0000 }]', /:21:21: tsvisor\.modules\[0\]\.path: the image does not exist \(looked for .*missing\.bin\)\./],
    ['modules = [{ path = "two.bin", load_addr = 0x8080 }]', /tsvisor\.modules\[0\]\.load_addr: the module .*two\.bin \(0x8080-0x987f\) overlaps the kernel image \(0x8000-0x80ff\)\./],
    ['modules = [{ path = "two.bin", load_addr = 0xfff000 }]', /tsvisor\.modules\[0\]\.load_addr: the module .*two\.bin \(6144 bytes\) would occupy 0xfff000-0x10007ff, which is not inside one RAM region/],
  ])('%s', (body, message) => {
    expect(errorOf(withModules(body)).message).toMatch(message);
  });

  it('a listed module must end below 4 GiB: the multiboot information\'s fields are 32-bit', () => {
    const text = withModules('modules = [{ path = "two.bin", load_addr = 0xffff_f000 }]')
      .replace('entry_point = 0x8000', 'entry_point = 0x8000\nboot_protocol = "multiboot"\nenable_bios = true')
      .replace('    [0x0, 0x100_0000, 0x7, 0],', '    [0x0, 0x100_0000, 0x7, 0],\n    [0xffff_0000, 0x2_0000, 0x7, 0],');
    expect(errorOf(text).message).toMatch(/tsvisor\.modules\[0\]\.load_addr: the module .*two\.bin would end at 0x100000800, above 4 GiB: the multiboot information gives a module's range in 32-bit fields\. Load it below 4 GiB\./);
  });

  it('strings past the multiboot information\'s 8 KiB are an error at the modules, with their count and size', () => {
    const many = Array.from({ length: 8 }, (_, i) => `{ path = "one.txt", load_addr = ${0x10_0000 + i * 0x1000}, cmdline = "${'x'.repeat(1000)}" }`).join(', ');
    const text = withModules(`modules = [${many}]`).replace('entry_point = 0x8000', 'entry_point = 0x8000\nenable_bios = true');
    expect(errorOf(text).message).toMatch(/tsvisor\.modules: the multiboot information needs \d+ bytes, but its area holds 8192 \(0x6000-0x7fff\), with 8 modules and 8000 bytes of their strings\. Give fewer modules, or shorter strings \(cmdline\)\./);
  });
});

describeKvm('a multiboot kernel booted from a TOML config with modules', () => {
  it('guests/mb-modules lists them in order, with their sizes, bytes and strings', async () => {
    const config = configFile(`[base]
id = 1
name = "mb-modules"
vm_type = 1
cpu_num = 1

[kernel]
entry_point = 0x20_0000
kernel_path = "${join(REPO, 'guests/build/mb-modules.elf32')}"
kernel_load_addr = 0x20_0000
cmdline = "modules from TOML"
ramdisk_path = "${join(REPO, 'guests/build/ramdisk.bin')}"
ramdisk_load_addr = 0x80_0000
memory_regions = [[0, 0x100_0000, 0x7, 0]]

[devices]
emu_devices = []
passthrough_devices = []

[[tsvisor.modules]]
path = "one.txt"
load_addr = 0x81_0000
cmdline = "one.txt --verbose"

[[tsvisor.modules]]
path = "empty.bin"
load_addr = 0x82_0000
`);
    const result = await tsvisor(['run', config]);
    const bytes = (path: string) => new Uint8Array(readFileSync(path));
    expect(result.stdout, outcomeOf(result)).toBe([
      'cmdline="modules from TOML"',
      'mods_count=3',
      moduleLine(0, bytes(join(REPO, 'guests/build/ramdisk.bin')), 'ramdisk.bin'),
      moduleLine(1, bytes(join(folder, 'one.txt')), 'one.txt --verbose'),
      moduleLine(2, new Uint8Array(), 'empty.bin'),
      LAYOUT_OK, '',
    ].join('\n'));
    expect(result.status).toBe(7);
  });
});
