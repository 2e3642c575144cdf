/**
 * Running a command line under the oracle, Debian's qemu-system-x86_64 7.2, and under
 * tsvisor-qemu (the built bundle), as child processes from the repository's root, for tests
 * that compare the two. Without QEMU installed, describeWithQemu skips, loudly.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe } from 'vitest';
import { REPO } from '../helpers/tsvisor.js';

export const QEMU = 'qemu-system-x86_64';
export const TSVISOR_QEMU = join(REPO, 'dist/bundle/tsvisor-qemu.js');
export const qemuInstalled = spawnSync(QEMU, ['-version']).status === 0;
if (!qemuInstalled) console.warn(`\n*** QEMU ORACLE TESTS SKIPPED: ${QEMU} is not installed (apt-get install qemu-system-x86) ***\n`);
export const describeWithQemu = qemuInstalled ? describe : describe.skip;

export interface Run {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function run(command: 'qemu' | 'tsvisor', args: readonly string[]): Run {
  const [file, prefix] = command === 'qemu' ? [QEMU, []] : [process.execPath, [TSVISOR_QEMU]];
  const result = spawnSync(file, [...prefix, ...args], { cwd: REPO, encoding: 'utf8', timeout: 30_000, input: '' });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** stderr without the program name QEMU or tsvisor puts first on each line. */
export const messages = (stderr: string) => stderr.replace(/^(qemu-system-x86_64|qemu|tsvisor-qemu): /gm, '');

/**
 * The options that make a QEMU boot's COM1 carry the guest's bytes alone, on stdout: no
 * default devices, no display, and SeaBIOS kept off the serial port (as in src/bench/qemu.ts).
 */
export const GUEST_SERIAL_ONLY = ['-nographic', '-nodefaults', '-serial', 'stdio', '-fw_cfg', 'name=etc/sercon-port,string=0'] as const;
