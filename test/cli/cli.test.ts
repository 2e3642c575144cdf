/** The command line: help, usage errors and bad input, each a one-paragraph message and status 2, never a stack trace. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-cli-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function expectBadInput(result: { status: number | null; stderr: string; stdout: string }, message: string) {
  expect(result.stderr).toBe(`tsvisor: ${message}\n`);
  expect(result.stdout).toBe('');
  expect(result.status).toBe(2);
}

describe('tsvisor help', () => {
  it('--help prints the usage and the exit statuses', async () => {
    const result = await tsvisor(['--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('tsvisor run <config> [options]');
    expect(result.stdout).toContain('odd        the guest wrote a value v to the debug-exit port 0xf4: (v << 1) | 1');
  });

  it('run --help lists the run options', async () => {
    const result = await tsvisor(['run', '--help']);
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('--serial <file>');
    expect(result.stdout).toContain('--trace-unassigned');
  });

  it('no command prints the usage on stderr with status 2', async () => {
    const result = await tsvisor([]);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('Usage:');
  });

  it('--version prints the version', async () => {
    expect((await tsvisor(['--version'])).stdout).toMatch(/^tsvisor \d+\.\d+\.\d+\n$/);
  });
});

describe('usage errors', () => {
  it('an unknown command', async () => {
    expectBadInput(await tsvisor(['boot']), "'boot' is not a tsvisor command. The commands are: run, check, qemu, qmp, domain, domxml-to-toml, domxml-from-toml, bench. See `tsvisor --help`.");
  });

  it('an unknown option', async () => {
    expectBadInput(
      await tsvisor(['run', '--bogus', 'configs/hello-x86_64.toml']),
      "tsvisor run has no option '--bogus'. See `tsvisor run --help` for its options.",
    );
  });

  it('an option without its value', async () => {
    expectBadInput(
      await tsvisor(['run', 'configs/hello-x86_64.toml', '--serial']),
      "the option '--serial' needs a value. See `tsvisor run --help` for its options.",
    );
  });

  it('run without a config', async () => {
    expectBadInput(await tsvisor(['run']), 'tsvisor run takes one config file, but none was given. Usage: tsvisor run <config> (TOML or domain XML); see `tsvisor run --help`.');
  });
});

describe('bad input', () => {
  it('a missing config file', async () => {
    expectBadInput(
      await tsvisor(['run', 'configs/nope.toml']),
      'configs/nope.toml: the config file does not exist (looked for ' +
        join(process.cwd(), 'configs/nope.toml') +
        '). Give the path of an AxVisor VM config (TOML); the examples are in the configs/ folder of tsvisor, for example configs/hello-x86_64.toml.',
    );
  });

  it('a config that is not TOML', async () => {
    const path = join(folder, 'broken.toml');
    writeFileSync(path, '[base]\nid = 1\nname = "x\n');
    const result = await tsvisor(['run', path]);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(new RegExp(`^tsvisor: ${path}:3:\\d+: this is not valid TOML: .+\\. Fix the syntax there; `));
    expect(result.stderr).not.toContain('    at ');
  });

  it('a missing kernel image', async () => {
    const path = join(folder, 'no-kernel.toml');
    writeFileSync(
      path,
      '[base]\nid = 1\nname = "x"\nvm_type = 1\ncpu_num = 1\n[kernel]\nentry_point = 0x8000\nkernel_path = "missing.bin"\nkernel_load_addr = 0x8000\nmemory_regions = [[0, 0x100000, 7, 0]]\n[devices]\nemu_devices = []\npassthrough_devices = []\n',
    );
    expectBadInput(
      await tsvisor(['run', path]),
      `${path}:8:15: kernel.kernel_path: the image does not exist (looked for ${join(folder, 'missing.bin')}). Relative paths are relative to the config file's folder.`,
    );
  });
});

describe('tsvisor check', () => {
  it('prints the resolved machine of a valid config and exits 0', async () => {
    const result = await tsvisor(['check', 'configs/hello-x86_64.toml']);
    expect(result.status).toBe(0);
    expect(result.stderr).toBe('');
    const lines = result.stdout.split('\n');
    expect(lines.slice(0, 7)).toEqual([
      'configs/hello-x86_64.toml: valid',
      '',
      'VM 1 "hello": vm_type 1 (RTOS / full virtualization), 1 vCPU, interrupts emulated',
      '',
      'Memory map',
      '  guest range   size    type             flags   host backing',
      '  0x0-0xffffff  16 MiB  RAM (MAP_ALLOC)  RWX---  anonymous, zero-filled, demand-paged',
    ]);
    expect(result.stdout).toMatch(/\n {2}kernel {2}0x8000-0x[0-9a-f]+ +\d+ KiB +\/.*\/guests\/build\/hello\.bin\n/);
    expect(result.stdout).toMatch(/\n {2}COM1 \(16550A UART\) +I\/O ports 0x3f8-0x3ff +4 +platform\n/);
    expect(result.stdout).toMatch(/\n {2}fw_cfg \(QEMU firmware configuration\) +I\/O ports 0x510-0x511 +- +platform\n/);
    expect(result.stdout).toContain('Boot\n  vCPU 0 starts in real mode at 0x8000 (CS 0x0000, IP 0x8000), in the kernel image\'s own real-mode code\n  command line: ""\n');
  });

  it('prints the boot plan of a BIOS boot and of a direct ELF64 boot', async () => {
    const axtest = await tsvisor(['check', 'configs/axtest-x86_64.toml']);
    expect(axtest.stdout).toContain(
      [
        'Boot',
        "  vCPU 0 starts in real mode at 0x8000 (CS 0x0000, IP 0x8000), in tsvisor's built-in BIOS stub",
        '  the BIOS enters the multiboot kernel at 0x200000 in 32-bit protected mode',
        '  multiboot information at 0x6000-0x7fff, passed in EBX with EAX = 0x2BADB002',
        '  command line: "axtest cmdline"',
      ].join('\n'),
    );
    const elf64 = await tsvisor(['check', 'configs/elf64-x86_64.toml']);
    expect(elf64.stdout).toContain(
      [
        'Boot',
        "  tsvisor enters the elf64 kernel directly: vCPU 0 starts at 0x200000 in 64-bit long mode (tsvisor's GDT and identity page tables)",
        '  boot GDT and page tables at 0x1000-0x7fff',
        '  command line: ""',
      ].join('\n'),
    );
    expect(elf64.stdout).toMatch(/\n {2}kernel \(segment 1\) +0x[0-9a-f]+-0x[0-9a-f]+ +\d+ (B|KiB) +\/.*elf64\.elf\n/);
  });

  it('--json prints the same as JSON', async () => {
    const result = await tsvisor(['check', '--json', 'configs/hello-x86_64.toml']);
    expect(result.status).toBe(0);
    const report = JSON.parse(result.stdout);
    expect(report).toMatchObject({ valid: true, name: 'hello', cpuCount: 1, boot: { entryPoint: 0x8000 }, warnings: [] });
    expect(report.devices[0]).toEqual({ kind: 'uart-16550', name: 'COM1 (16550A UART)', bus: 'io', base: 0x3f8, length: 8, irq: 4, origin: 'platform' });
    expect(report.bootPlan).toEqual(["vCPU 0 starts in real mode at 0x8000 (CS 0x0000, IP 0x8000), in the kernel image's own real-mode code", 'command line: ""']);
  });

  it('exits 1 with the located error for an invalid config, as text or JSON', async () => {
    const path = join(folder, 'invalid.toml');
    writeFileSync(path, '[base]\nid = 1\nname = "x"\nvm_type = 1\ncpu_num = 0\n');
    const text = await tsvisor(['check', path]);
    expect(text.status).toBe(1);
    expect(text.stderr).toBe(`tsvisor: ${path}:5:11: base.cpu_num: 0 is out of range: expected 1 to 255. Use a value in that range.\n`);
    const json = await tsvisor(['check', '--json', path]);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout)).toEqual({
      valid: false,
      error: {
        file: path,
        line: 5,
        column: 11,
        keyPath: 'base.cpu_num',
        problem: '0 is out of range: expected 1 to 255.',
        fix: 'Use a value in that range.',
        message: `${path}:5:11: base.cpu_num: 0 is out of range: expected 1 to 255. Use a value in that range.`,
      },
    });
  });

  it('exits 2 on a usage error', async () => {
    expectBadInput(await tsvisor(['check']), 'tsvisor check takes one config file, but none was given. Usage: tsvisor check <config.toml> [--json].');
  });
});

describeKvm('tsvisor and KVM', () => {
  it('check shows what tsvisor changes in the CPUID KVM supports, as text and as JSON', async () => {
    const text = await tsvisor(['check', 'configs/hello-x86_64.toml']);
    expect(text.stdout).toMatch(/\nCPUID \(vCPU 0: what tsvisor changes in what KVM supports\)\n {2}leaf +register +KVM +tsvisor +why\n/);
    expect(text.stdout).toMatch(/\n {2}0x40000000 +EBX +0x[0-9a-f]{8} +0x69767374 +the signature "tsvisor"\n/);
    const report = JSON.parse((await tsvisor(['check', '--json', 'configs/hello-x86_64.toml'])).stdout);
    expect(report.cpuid.changes).toContainEqual({ leaf: 0x40000000, index: 0, register: 'ebx', before: expect.any(Number), after: 0x69767374, why: 'the signature "tsvisor"' });
  });

  it.runIf(process.getuid?.() === 0 && existsSync('/usr/bin/setpriv'))(
    'no access to /dev/kvm (run as the unprivileged user nobody)',
    async () => {
      expectBadInput(
        await tsvisor(['run', 'configs/hello-x86_64.toml'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] }),
        'Cannot open /dev/kvm: EACCES (permission denied). This user may not use KVM: add it to the group that owns /dev/kvm (often `kvm`: sudo usermod -aG kvm $USER, then log in again), or run tsvisor as root.',
      );
    },
  );

  /** A VM whose vCPU 0 prints "bsp" and then halts forever. */
  const haltingConfig = () => {
    const path = join(folder, 'halting.toml');
    writeFileSync(
      path,
      `[base]\nid = 1\nname = "halting"\nvm_type = 1\ncpu_num = 1\n[kernel]\nentry_point = 0x8000\nkernel_path = "${join(process.cwd(), 'guests/build/smp-park.bin')}"\nkernel_load_addr = 0x8000\nmemory_regions = [[0, 0x100_0000, 7, 0]]\n[devices]\nemu_devices = []\npassthrough_devices = []\n`,
    );
    return path;
  };

  it.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s stops the VM cleanly with status %i', async (signal, status) => {
    const result = await tsvisor(['run', haltingConfig()], { signal, signalAfter: 'bsp\n' });
    expect(result.stdout).toBe('bsp\n');
    // Where the vCPU was: halted after its "bsp\n" (4 writes to THR and the hlt's exit), or, when
    // the signal came first, still on its way there after the 4 writes.
    const [stopped, where] = result.stderr.split('\n');
    expect(stopped).toBe(`tsvisor: stopped by ${signal}`);
    expect([
      'tsvisor: vCPU 0 was halted in real mode at 0x801b, interrupts enabled; 5 exits, the last I/O or MMIO exit KVM_EXIT_IO, a write to I/O port 0x3f8',
      expect.stringMatching(/^tsvisor: vCPU 0 was running in real mode at 0x80[0-9a-f]{2}, interrupts (enabled|disabled); 4 exits, the last I\/O or MMIO exit KVM_EXIT_IO, a write to I\/O port 0x3f8$/),
    ]).toContainEqual(where);
    expect(result.stderr.split('\n')).toHaveLength(3);
    expect(result.status).toBe(status);
  });

  it('--stats prints exits and device accesses at exit', async () => {
    const result = await tsvisor(['run', '--stats', 'configs/hello-x86_64.toml']);
    expect(result.status).toBe(43);
    const lines = result.stderr.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual(['tsvisor: statistics', 'Exits', expect.stringMatching(/^ {2}vCPU \/ reason +count +time$/)]);
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}vCPU 0 KVM_EXIT_IO +\d+ +\d+\.\d{3} ms$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}COM1 \(16550A UART\) +25 +32 +\d+\.\d{3} ms$/));
    expect(lines).toContainEqual(expect.stringMatching(/^ {2}debug-exit \(isa-debug-exit\) +0 +1 +\d+\.\d{3} ms$/));
  });
});
