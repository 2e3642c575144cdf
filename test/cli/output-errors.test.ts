/**
 * Issue 15: a write to stdout or stderr that fails (a full disk, a pipe whose reader left) is
 * reported as such, with status 74 (ExitStatus.outputFailed), never 70 and a stack trace.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ExitStatus } from '../../src/errors.js';
import { fifoFolder, openFifo } from '../helpers/fifo.js';
import { CLI, REPO } from '../helpers/tsvisor.js';

const fifos = fifoFolder('tsvisor-output-');
afterAll(fifos.remove);

/** Runs tsvisor with stdout and stderr on the given fds (a pipe for 'pipe'). */
function tsvisorTo(args: readonly string[], stdout: number | 'pipe', stderr: number | 'pipe' = 'pipe') {
  return spawnSync(process.execPath, [CLI, ...args], { cwd: REPO, stdio: ['ignore', stdout, stderr], encoding: 'utf8', timeout: 20_000 });
}

const ENOSPC_ON_STDOUT =
  'tsvisor: cannot write to standard output: ENOSPC (no space left on device). Free space on the disk it is written to, or send standard output elsewhere.\n';

describe('output that cannot be written', () => {
  it.each([
    ['check', ['check', 'configs/hello-x86_64.toml']],
    ['check --json', ['check', '--json', 'configs/hello-x86_64.toml']],
    ['--help', ['--help']],
    ['--version', ['--version']],
  ])('%s with stdout on a full disk (/dev/full) says so, with status 74', (_name, args) => {
    const full = openSync('/dev/full', 'w');
    try {
      const result = tsvisorTo(args, full);
      expect(result.stderr).toBe(ENOSPC_ON_STDOUT);
      expect(result.status).toBe(ExitStatus.outputFailed);
    } finally {
      closeSync(full);
    }
  });

  it('check with stdout a pipe its reader closed says so (EPIPE), with status 74', () => {
    const { reader, writer } = openFifo(join(fifos.path, 'closed'));
    closeSync(reader);
    try {
      const result = tsvisorTo(['check', 'configs/hello-x86_64.toml'], writer);
      expect(result.stderr).toBe('tsvisor: cannot write to standard output: EPIPE (broken pipe). The program reading it stopped before tsvisor finished writing.\n');
      expect(result.status).toBe(ExitStatus.outputFailed);
    } finally {
      closeSync(writer);
    }
  });

  it('an invalid config with stderr on a full disk ends with status 74: the error could not be told', () => {
    const full = openSync('/dev/full', 'w');
    try {
      const result = tsvisorTo(['check', 'configs/does-not-exist.toml'], 'pipe', full);
      expect(result.stdout).toBe('');
      expect(result.status).toBe(ExitStatus.outputFailed);
    } finally {
      closeSync(full);
    }
  });
});
