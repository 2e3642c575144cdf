/**
 * -initrd with several multiboot modules, each with its own command line, as QEMU 7.2 gives
 * them to a multiboot kernel: parsed, laid out and turned into [tsvisor] modules, then booted
 * under both QEMU and tsvisor-qemu.
 *
 * Compared with QEMU (Debian's qemu-system-x86_64 7.2, the same argv): the guest
 * guests/mb-modules prints its command line and its module list (count, and for each module
 * in order its size, an FNV-1a hash of its bytes, its first bytes and its string), whether
 * every module is page-aligned, after the kernel's memory image and after the module before
 * it, and ends with status (count << 1) | 1; stdout and the status must be the same, byte for
 * byte. For bad -initrd arguments, stderr (the program's prefix set aside) and the status.
 * What differs, and is not compared: the modules' addresses (QEMU copies the kernel and the
 * modules through its multiboot option ROM to addresses of its choosing; tsvisor puts each at
 * the next page after the kernel or the module before it, and to-config's tests check those),
 * where the multiboot information lies and the boot loader's name ("qemu" there, "tsvisor"
 * here). Beyond QEMU: tsvisor refuses modules that do not fit in RAM (QEMU 7.2 starts the
 * guest and its option ROM never returns), and the command line and the modules' strings
 * share tsvisor's 8 KiB of multiboot information.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import { parseInitrd } from '../../src/qemu/initrd-option.js';
import { parseCommandLine } from '../../src/qemu/parse-command-line.js';
import { configToml } from '../../src/qemu/print-config.js';
import { qemuVmSpec } from '../../src/qemu/qemu-command.js';
import { qemuConfig } from '../../src/qemu/to-config.js';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';
import { LAYOUT_OK, moduleLine } from '../boot/mb-modules-output.js';
import { GUEST_SERIAL_ONLY, describeWithQemu, messages, qemuInstalled, run } from './oracle.js';
import { errorOf, specOf } from './front-end.js';

const KERNEL = 'guests/build/mb-modules.elf32';
const PAGE = 0x1000;

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-modules-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
const file = (name: string, bytes: string | Uint8Array) => {
  const path = join(folder, name);
  writeFileSync(path, bytes);
  return path;
};
const text = file('text.txt', 'first module\n');
const binary = file('b,c.bin', new Uint8Array([0x78, 0x2c, 0x00, 0x01, 0xff]));
// Not a whole number of pages, so that the next module's page alignment shows.
const large = file('large.bin', Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7 + 3) & 0xff));
const empty = file('empty.bin', '');
const huge = file('huge.bin', new Uint8Array(20 * 2 ** 20));
const directory = join(folder, 'a-folder');
mkdirSync(directory);

/** -initrd's text for a module: its file with ",," for each comma, then its arguments. */
const module = (path: string, args = '') => `${path.replaceAll(',', ',,')}${args}`;



describe('-initrd\'s module list, as QEMU 7.2 reads it', () => {
  it('splits at single commas; ",," is a comma; a module\'s file ends at its first space, its string is all of it', () => {
    expect(parseInitrd('a.bin arg1  arg2,b,,c.bin x=1,,2,d.bin')).toEqual([
      { file: 'a.bin', string: 'a.bin arg1  arg2' },
      { file: 'b,c.bin', string: 'b,c.bin x=1,2' },
      { file: 'd.bin', string: 'd.bin' },
    ]);
    expect(parseInitrd('a.bin\targ')).toEqual([{ file: 'a.bin\targ', string: 'a.bin\targ' }]);
    expect(parseInitrd('a.bin ')).toEqual([{ file: 'a.bin', string: 'a.bin ' }]);
  });

  it('takes an empty -initrd as no module and drops one trailing comma; other empty modules are files named \'\'', () => {
    expect(parseInitrd('')).toEqual([]);
    expect(parseInitrd('a.bin,')).toEqual([{ file: 'a.bin', string: 'a.bin' }]);
    expect(parseInitrd('a.bin,,,')).toEqual([{ file: 'a.bin,', string: 'a.bin,' }]);
    expect(parseInitrd(',a.bin')).toEqual([{ file: '', string: '' }, { file: 'a.bin', string: 'a.bin' }]);
    expect(parseInitrd(' a.bin')).toEqual([{ file: '', string: ' a.bin' }]);
  });
});

describe('the modules in the VmSpec', () => {
  const initrd = [module(text, ' arg1  arg2'), module(large), module(binary, ' x=1,,2'), module(empty), module(text)].join(',');
  const spec = specOf(['-kernel', KERNEL, '-append', 'hello', '-initrd', initrd]);
  const modules = spec.images.filter((image) => image.role === 'module');

  it('are [tsvisor] modules in order, each with its whole text as its string', () => {
    expect(modules.map((image) => [image.source, image.size, image.moduleString])).toEqual([
      [{ kind: 'host', path: text }, 13, `${text} arg1  arg2`],
      [{ kind: 'host', path: large }, 10_000, large],
      [{ kind: 'host', path: binary }, 5, `${binary} x=1,2`],
      [{ kind: 'host', path: empty }, 0, empty],
      [{ kind: 'host', path: text }, 13, text],
    ]);
  });

  it('lie at the page after the kernel\'s memory image, each at the page after the one before', () => {
    const kernel = spec.images.find((image) => image.role === 'kernel')?.segments ?? [];
    const kernelEnd = Math.max(...kernel.map((segment) => segment.gpa + segment.memSize));
    const expected: number[] = [];
    let next = Math.ceil(kernelEnd / PAGE) * PAGE;
    for (const image of modules) {
      expected.push(next);
      next = Math.ceil((next + image.size) / PAGE) * PAGE;
    }
    expect(modules.map((image) => image.segments[0]?.gpa)).toEqual(expected);
    // The empty module takes no page: the one after it starts where it does.
    expect(expected[4]).toBe(expected[3]);
  });

  it('--print-config writes them as [tsvisor] modules, which make the same VmSpec', () => {
    const invocation = parseCommandLine(['-kernel', KERNEL, '-initrd', initrd]);
    if (invocation.action !== 'run') throw new Error('expected a run');
    const config = qemuConfig(invocation.machine);
    const toml = configToml(config.document, ['a test']);
    expect(toml).toContain(`modules = [\n    { path = ${JSON.stringify(text)}, load_addr = 0x`);
    expect(toml).toContain(`cmdline = ${JSON.stringify(`${binary} x=1,2`)} }`);
    const path = file('printed.toml', toml);
    const { configPath: _a, ...fromToml } = loadVmConfig(path);
    const { configPath: _b, ...fromQemu } = qemuVmSpec(config);
    expect(fromToml).toEqual(fromQemu);
  });

  it('a module that cannot be opened is QEMU\'s "Failed to open file"; one past RAM names -initrd', () => {
    expect(errorOf(['-kernel', KERNEL, '-initrd', `${text},/nonexist arg`])).toBe("Failed to open file '/nonexist'");
    expect(errorOf(['-kernel', KERNEL, '-initrd', directory])).toBe(`Failed to open file '${directory}'`);
    expect(errorOf(['-kernel', KERNEL, '-initrd', `,${text}`])).toBe("Failed to open file ''");
    expect(errorOf(['-kernel', KERNEL, '-m', '16', '-initrd', `${text},${huge}`])).toMatch(
      new RegExp(`^-initrd ${text},${huge}: the module ${huge} \\(20971520 bytes\\) would occupy 0x[0-9a-f]+-0x[0-9a-f]+, which is not inside one RAM region \\(RAM: 0x0-0xffffff\\)\\.`),
    );
  });

  it('a kernel without multiboot information gets the modules loaded, with a warning that nothing lists them', () => {
    const flat = specOf(['-kernel', 'guests/build/hello.bin', '-initrd', text]);
    expect(flat.images.filter((image) => image.role === 'module').map((image) => image.source)).toEqual([{ kind: 'host', path: text }]);
    expect(flat.warnings).toEqual(['the QEMU command line: tsvisor.modules: the modules are loaded, but the flat kernel gets no multiboot information: the kernel must find them itself.']);
  });
});

describeWithQemu('bad -initrd arguments, against QEMU 7.2', () => {
  it.each([
    ['a missing module after a good one', `${text},/nonexist arg`],
    ['an empty first module', `,${text}`],
    ['a module that starts with a space', ` ${text}`],
    ['a folder', directory],
    ['",," joining two names into one', `${text},,${text}`],
  ])('%s: the same message and status 1', (_name, initrd) => {
    const args = ['-nodefaults', '-display', 'none', '-kernel', KERNEL, '-initrd', initrd];
    const [qemu, ours] = [run('qemu', args), run('tsvisor', args)];
    expect(qemu.status).toBe(1);
    expect({ status: ours.status, stderr: messages(ours.stderr) }).toEqual({ status: 1, stderr: messages(qemu.stderr) });
  });
});

describeKvm('the module list a multiboot kernel sees, against QEMU 7.2', () => {
  const boot = (initrd: readonly string[]) => [
    // No accelerator: QEMU takes its default, TCG (under this nested host, KVM costs QEMU
    // seconds to start), and tsvisor KVM, its only one; the argv is the same.
    '-m', '16', ...GUEST_SERIAL_ONLY, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4',
    '-kernel', KERNEL, '-append', 'modules test', ...initrd,
  ];
  const bytesOf = (path: string) => new Uint8Array(readFileSync(path));

  it.runIf(qemuInstalled).each([
    [
      'five modules: arguments, ",," in a name and in arguments, binary bytes, a partial page, an empty file',
      [module(text, ' arg1  arg2'), module(binary, ' x=1,,2'), module(large), module(empty), module(text, ' again')].join(','),
      [[text, `${text} arg1  arg2`], [binary, `${binary} x=1,2`], [large, large], [empty, empty], [text, `${text} again`]],
    ],
    ['one module, no arguments', module(large), [[large, large]]],
    ['a trailing comma', `${module(text)},`, [[text, text]]],
    ['an empty -initrd', '', []],
  ] as const)('%s: the same bytes and status', { timeout: 60_000 }, (_name, initrd, expected) => {
    const args = boot(['-initrd', initrd]);
    const [qemu, ours] = [run('qemu', args), run('tsvisor', args)];
    expect(qemu.stdout).toBe([
      `cmdline="${KERNEL} modules test"`,
      `mods_count=${expected.length}`,
      ...expected.map(([path, string], index) => moduleLine(index, bytesOf(path), string)),
      LAYOUT_OK, '',
    ].join('\n'));
    expect(qemu.status).toBe((expected.length << 1) | 1);
    expect({ status: ours.status, stdout: ours.stdout }).toEqual({ status: qemu.status, stdout: qemu.stdout });
  });

  it.runIf(qemuInstalled)('no -initrd: no modules under either', { timeout: 60_000 }, () => {
    const [qemu, ours] = [run('qemu', boot([])), run('tsvisor', boot([]))];
    expect(qemu.stdout).toBe(`cmdline="${KERNEL} modules test"\nmods_count=0\n${LAYOUT_OK}\n`);
    expect({ status: ours.status, stdout: ours.stdout }).toEqual({ status: 1, stdout: qemu.stdout });
  });

  it('the printed config boots to the same bytes under tsvisor run', { timeout: 60_000 }, async () => {
    const args = boot(['-initrd', [module(text, ' arg'), module(binary)].join(',')]);
    const printed = await tsvisor(['qemu', '--print-config', ...args]);
    expect(printed.status).toBe(0);
    const config = file('boot.toml', printed.stdout);
    const [fromToml, fromQemu] = [await tsvisor(['run', config]), await tsvisor(['qemu', ...args])];
    expect(fromToml.stdout).toBe([
      `cmdline="${KERNEL} modules test"`, 'mods_count=2', moduleLine(0, bytesOf(text), `${text} arg`), moduleLine(1, bytesOf(binary), binary), LAYOUT_OK, '',
    ].join('\n'));
    expect({ status: fromQemu.status, stdout: fromQemu.stdout }).toEqual({ status: fromToml.status, stdout: fromToml.stdout });
  });
});
