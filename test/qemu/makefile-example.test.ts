/**
 * examples/qemu-makefile: a kernel project's Makefile whose `run` and `test` targets launch
 * `$(QEMU) -kernel ... -serial stdio -display none -no-reboot -device isa-debug-exit,...` and
 * read the emulator's exit status as test harnesses do (33, (0x10 << 1) | 1, is success).
 *
 * Compared: each target run with QEMU=qemu-system-x86_64 (Debian's QEMU 7.2, its default
 * accelerator, TCG) and with QEMU=tsvisor-qemu (this checkout's, found on PATH under that
 * name; KVM): make's stdout (the kernel's serial output and the harness's verdict; make -s,
 * so that the recipe's echo, which names the emulator, is left out) and make's exit status,
 * which must be the same, and what they must be. Not compared: stderr, where QEMU and
 * tsvisor may warn differently. The example's own check-under-tsvisor.sh must pass too.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { REPO } from '../helpers/tsvisor.js';
import { QEMU, TSVISOR_QEMU, qemuInstalled } from './oracle.js';

const EXAMPLE = join(REPO, 'examples/qemu-makefile');
const bin = mkdtempSync(join(tmpdir(), 'tsvisor-qemu-bin-'));
symlinkSync(TSVISOR_QEMU, join(bin, 'tsvisor-qemu'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function make(emulator: string, args: readonly string[]) {
  // The environment as it is now: inside describeKvm, it lets tsvisor open /dev/kvm.
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}` };
  const result = spawnSync('make', ['--no-print-directory', '-s', '-C', EXAMPLE, `QEMU=${emulator}`, ...args], { env, encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const TESTS_OK = ['boot::multiboot_magic... [ok]', 'boot::memory_above_1_mib_at_least_30_mib... [ok]', 'lib::utoa... [ok]', 'lib::has_word... [ok]'];

describeKvm('a kernel project\'s Makefile, under QEMU 7.2 and under tsvisor-qemu', () => {
  beforeAll(() => {
    const build = spawnSync('make', ['--no-print-directory', '-s', '-C', EXAMPLE, 'all'], { encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);
  });

  it.runIf(qemuInstalled).each([
    ['make test: the tests pass, status 33', ['test'], 0, [...TESTS_OK, '4 passed, 0 failed', 'tests passed']],
    [
      'make test TEST_ARGS=inject-failure: status 35, the harness fails',
      ['test', 'TEST_ARGS=inject-failure'],
      2,
      [...TESTS_OK, 'harness::injected_failure... [failed]', '4 passed, 1 failed', 'tests failed: the emulator exited with status 35'],
    ],
    ['make run: a greeting and a power-off, status 0', ['run'], 0, ['Hello from the example kernel!']],
  ] as const)('%s', { timeout: 60_000 }, (_name, args, makeStatus, lines) => {
    const [qemu, ours] = [make(QEMU, args), make('tsvisor-qemu', args)];
    expect({ status: qemu.status, stdout: qemu.stdout }, qemu.stderr).toEqual({ status: makeStatus, stdout: `${lines.join('\n')}\n` });
    expect({ status: ours.status, stdout: ours.stdout }, ours.stderr).toEqual({ status: qemu.status, stdout: qemu.stdout });
  });

  it('check-under-tsvisor.sh runs the targets with QEMU=tsvisor-qemu and finds every check holds', { timeout: 60_000 }, () => {
    const result = spawnSync(join(EXAMPLE, 'check-under-tsvisor.sh'), { encoding: 'utf8', timeout: 60_000 });
    expect(result.stderr).toBe('');
    expect(result.stdout.trimEnd().split('\n').filter((line) => /^(ok|FAIL|All)/.test(line))).toEqual([
      'ok: the tests pass (status 33)',
      'ok: an injected failure fails the run (status 35)',
      'ok: make run powers off (status 0)',
      'All checks passed: the Makefile\'s qemu-system-x86_64 command line runs unmodified under tsvisor-qemu.',
    ]);
    expect(result.status).toBe(0);
  });
});
