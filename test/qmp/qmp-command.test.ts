/**
 * tsvisor qmp, the client command, run as a user runs it, against tsvisor's QMP server (here
 * with a fake machine, no KVM) and against QEMU 7.2 itself (-machine none, TCG: no KVM needed),
 * with the same expectations for both: the reply's "return" as QEMU-formatted JSON, errors as
 * `tsvisor qmp: <class>: <desc>` with status 1, events only with --events.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startQmpServer, type QmpService } from '../../src/qmp/listen.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { tsvisor } from '../helpers/tsvisor.js';
import { FakeMachine } from './fake-machine.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qmp-command-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const STOP_EVENT = /^\{"timestamp": \{"seconds": \d+, "microseconds": \d+\}, "event": "STOP"\}\n\{\}\n$/;

function sharedExpectations(socket: () => string) {
  it('prints the return of a command', async () => {
    const result = await tsvisor(['qmp', socket(), 'query-status']);
    expect(result).toMatchObject({ status: 0, stdout: '{"status": "running", "singlestep": false, "running": true}\n', stderr: '' });
  });

  it('passes arguments, and prints a string return as JSON', async () => {
    const result = await tsvisor(['qmp', socket(), 'human-monitor-command', '{"command-line": "help stop"}']);
    expect(result).toMatchObject({ status: 0, stdout: '"stop|s  -- stop emulation\\r\\n"\n' });
  });

  it('prints an error reply with its class, status 1', async () => {
    const result = await tsvisor(['qmp', socket(), 'nosuch']);
    expect(result).toMatchObject({ status: 1, stdout: '', stderr: 'tsvisor qmp: CommandNotFound: The command nosuch has not been found\n' });
    const wrongType = await tsvisor(['qmp', socket(), 'human-monitor-command', '{"command-line": 1}']);
    expect(wrongType).toMatchObject({ status: 1, stderr: "tsvisor qmp: GenericError: Invalid parameter type for 'command-line', expected: string\n" });
  });

  it('prints events only with --events', async () => {
    const quiet = await tsvisor(['qmp', socket(), 'stop']);
    expect(quiet).toMatchObject({ status: 0, stdout: '{}\n' });
    await tsvisor(['qmp', socket(), 'cont']);
    const withEvents = await tsvisor(['qmp', socket(), 'stop', '--events']);
    expect(withEvents.stdout).toMatch(STOP_EVENT);
    expect(withEvents.status).toBe(0);
  });
}

describe('tsvisor qmp against tsvisor', () => {
  let service: QmpService;
  const path = join(folder, 'tsvisor.sock');
  beforeAll(async () => {
    service = await startQmpServer({ transport: 'unix', path, server: true, wait: false }, new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [], []), {
      version: qmpVersion('0.1.0'),
    });
  });
  afterAll(() => service.close());
  sharedExpectations(() => path);

  it('bad input: status 2 with what to do', async () => {
    const noServer = await tsvisor(['qmp', join(folder, 'none.sock'), 'query-status']);
    expect(noServer.stderr).toBe(
      `tsvisor: cannot connect to the QMP socket ${join(folder, 'none.sock')}: ENOENT. Start the VM with a QMP server there first (tsvisor run --qmp unix:PATH,server=on,wait=off, or QEMU's -qmp), and check the address.\n`,
    );
    expect(noServer.status).toBe(2);
    const badArguments = await tsvisor(['qmp', path, 'query-status', '[1]']);
    expect(badArguments.stderr).toBe(`tsvisor: the arguments '[1]' are not a JSON object (it is not an object). Give them as one object, for example '{"command-line": "info status"}'.\n`);
    expect(badArguments.status).toBe(2);
    const missing = await tsvisor(['qmp', path]);
    expect(missing.status).toBe(2);
    expect(missing.stderr).toMatch(/^tsvisor: tsvisor qmp takes a socket, a command and optionally its arguments as a JSON object, but 1 were given\./);
  });
});

const hasQemu = spawnSync('qemu-system-x86_64', ['--version']).status === 0;
if (!hasQemu) console.warn('\n*** tsvisor qmp AGAINST QEMU SKIPPED: qemu-system-x86_64 is not installed (apt-get install qemu-system-x86) ***\n');

(hasQemu ? describe : describe.skip)('tsvisor qmp against QEMU 7.2', () => {
  const path = join(folder, 'qemu.sock');
  let qemu: ReturnType<typeof spawn>;
  beforeAll(async () => {
    qemu = spawn('qemu-system-x86_64', ['-display', 'none', '-nodefaults', '-machine', 'none', '-accel', 'tcg', '-qmp', `unix:${path},server=on,wait=off`], { stdio: 'ignore' });
    while (!existsSync(path)) await new Promise((resolve) => setTimeout(resolve, 20));
  });
  afterAll(() => {
    qemu.kill('SIGKILL');
  });
  sharedExpectations(() => path);

  it('quit: QEMU ends, tsvisor qmp prints the return', async () => {
    const ended = new Promise((resolve) => qemu.once('exit', resolve));
    const result = await tsvisor(['qmp', path, 'quit', '--events']);
    expect(result.stdout).toMatch(/^\{"timestamp": \{"seconds": \d+, "microseconds": \d+\}, "event": "SHUTDOWN", "data": \{"guest": false, "reason": "host-qmp-quit"\}\}\n\{\}\n$/);
    expect(result.status).toBe(0);
    expect(await ended).toBe(0);
  });
});
