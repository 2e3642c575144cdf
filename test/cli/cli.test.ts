/** The command line: help, usage errors and bad input, each a one-paragraph message and status 2, never a stack trace. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
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
    expect(result.stdout).toContain('tsvisor run <config.toml> [options]');
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
    expectBadInput(await tsvisor(['boot']), "'boot' is not a tsvisor command. The commands are: run, bench. See `tsvisor --help`.");
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
    expectBadInput(await tsvisor(['run']), 'tsvisor run takes one config file, but none was given. Usage: tsvisor run <config.toml>; see `tsvisor run --help`.');
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
      `${path}:8:1: kernel.kernel_path: the image does not exist (looked for ${join(folder, 'missing.bin')}). Relative paths are relative to the config file's folder. The guests in guests/ are built by \`npm install\` (or \`npm run build:guests\`).`,
    );
  });

  it.runIf(process.getuid?.() === 0 && existsSync('/usr/bin/setpriv') && existsSync('/dev/kvm'))(
    'no access to /dev/kvm (run as the unprivileged user nobody)',
    async () => {
      expectBadInput(
        await tsvisor(['run', 'configs/hello-x86_64.toml'], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] }),
        'Cannot open /dev/kvm: EACCES (permission denied). This user may not use KVM: add it to the group that owns /dev/kvm (often `kvm`: sudo usermod -aG kvm $USER, then log in again), or run tsvisor as root.',
      );
    },
  );
});
