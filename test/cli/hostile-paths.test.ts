/**
 * Issue 15 through the command line: a config that is a device, a FIFO or a table named
 * after a JavaScript built-in ends with a message and status 1 or 0, never a hang or 70.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fifoFolder } from '../helpers/fifo.js';
import { REPO, tsvisor } from '../helpers/tsvisor.js';

const folder = fifoFolder('tsvisor-cli-hostile-');
afterAll(folder.remove);

describe('tsvisor check on hostile paths', () => {
  it('refuses /dev/zero as a device, before reading it', async () => {
    const result = await tsvisor(['check', '/dev/zero']);
    expect(result.stderr).toMatch(/^tsvisor: \/dev\/zero: the config file is a character device, not a regular file/);
    expect(result.status).toBe(1);
  });

  it('refuses a FIFO without waiting for a writer', async () => {
    const fifo = join(folder.path, 'config.toml');
    execFileSync('mkfifo', [fifo]);
    const result = await tsvisor(['check', fifo]);
    expect(result.stderr).toMatch(/the config file is a FIFO \(named pipe\), not a regular file/);
    expect(result.status).toBe(1);
  });

  it('takes a [constructor] table for an unknown table: a warning, not exit 70', async () => {
    const config = join(folder.path, 'constructor.toml');
    const hello = readFileSync(join(REPO, 'configs/hello-x86_64.toml'), 'utf8').replace('"../guests/', `"${join(REPO, 'guests')}/`);
    writeFileSync(config, `[constructor]\nx = 1\n${hello}`);
    const result = await tsvisor(['check', config]);
    expect(result.stdout).toMatch(/constructor\.toml:1:1: constructor: tsvisor does not know this key and ignores it/);
    expect(result.status).toBe(0);
  });

  // As root every file is readable: the check needs a user for whom this one is not.
  it.runIf(process.getuid?.() === 0 && existsSync('/usr/bin/setpriv'))('refuses a kernel image run could not open (EACCES), as run would', async () => {
    chmodSync(folder.path, 0o755);
    copyFileSync(join(REPO, 'guests/build/hello.bin'), join(folder.path, 'unreadable.bin'));
    chmodSync(join(folder.path, 'unreadable.bin'), 0o000);
    const config = join(folder.path, 'unreadable.toml');
    writeFileSync(config, readFileSync(join(REPO, 'configs/hello-x86_64.toml'), 'utf8').replace('"../guests/build/hello.bin"', '"unreadable.bin"'));
    chmodSync(config, 0o644);
    const result = await tsvisor(['check', config], { prefix: ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups'] });
    expect(result.stderr).toContain(`kernel.kernel_path: the image ${join(folder.path, 'unreadable.bin')} cannot be read (EACCES: permission denied).`);
    expect(result.status).toBe(1);
  });
});
