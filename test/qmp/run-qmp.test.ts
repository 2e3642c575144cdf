/**
 * tsvisor run --qmp with a real guest under KVM, driven by tsvisor's QMP client: the echo guest
 * (guests/echo) waits for a line on COM1, so it runs until the test lets it end. Compared with
 * QEMU 7.2's behaviour for the same commands (qemu-transcripts.json): query-status, stop with
 * its STOP event, cont with RESUME, quit with SHUTDOWN "host-qmp-quit", the guest's power-off
 * with SHUTDOWN "guest-shutdown", SIGTERM with "host-signal", system_reset with RESET (the
 * guest's prompt again; a paused guest waits in "prelaunch"); and query-cpus-fast's thread ids,
 * which must be threads of the tsvisor process.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { QmpClient } from '../../src/qmp/client.js';
import { formatJson } from '../../src/qmp/json-format.js';
import type { JsonObject } from '../../src/qmp/json-value.js';
import { describeKvm } from '../helpers/kvm.js';
import { CLI, REPO, tsvisor } from '../helpers/tsvisor.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-run-qmp-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Running {
  readonly child: ChildProcessWithoutNullStreams;
  readonly client: QmpClient;
  readonly events: string[];
  readonly exit: Promise<{ status: number | null; stdout: string; stderr: string }>;
  /** Resolves once the guest's output has shown `text` (at any time since the start). */
  readonly untilOutput: (text: string) => Promise<void>;
}

/** Starts tsvisor with a QMP server that waits for its client (wait=on), and connects. */
async function startEcho(name: string): Promise<Running> {
  const path = join(folder, `${name}.sock`);
  const child = spawn(process.execPath, [CLI, 'run', 'configs/echo-x86_64.toml', '--qmp', `unix:${path},server=on`], { cwd: REPO });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exit = new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => child.on('close', (status) => resolve({ status, stdout, stderr })));
  // The socket exists once tsvisor listens; the guest starts only once a client has connected.
  while (!stderr.includes('waiting for a QMP connection')) await new Promise((resolve) => child.stderr.once('data', resolve));
  expect(stderr).toBe(`tsvisor: waiting for a QMP connection on unix:${path},server=on\n`);
  expect(existsSync(path)).toBe(true);
  const events: string[] = [];
  const client = await QmpClient.connect({ transport: 'unix', path }, (event: JsonObject) => events.push(eventShape(event)));
  const untilOutput = async (text: string) => {
    while (!stdout.includes(text)) await new Promise((resolve) => child.stdout.once('data', resolve));
  };
  return { child, client, events, exit, untilOutput };
}

/** An event without its timestamp (its shape checked). */
function eventShape(event: JsonObject): string {
  const timestamp = event.get('timestamp') as JsonObject;
  expect(typeof timestamp.get('seconds')).toBe('bigint');
  expect(typeof timestamp.get('microseconds')).toBe('bigint');
  return formatJson(new Map([...event].filter(([key]) => key !== 'timestamp')));
}

const returned = async (client: QmpClient, command: string, args?: JsonObject) => {
  const reply = await client.execute(command, args);
  if ('error' in reply) throw new Error(`${command}: ${reply.error.class}: ${reply.error.desc}`);
  return formatJson(reply.return);
};

describeKvm('tsvisor run --qmp, with a real guest', () => {
  it('query-status, stop and cont with their events, query-cpus-fast, HMP, then quit: SHUTDOWN and status 0', async () => {
    const { child, client, events, exit, untilOutput } = await startEcho('quit');
    try {
      expect(await returned(client, 'query-status')).toBe('{"status": "running", "singlestep": false, "running": true}');
      expect(await returned(client, 'stop')).toBe('{}');
      expect(events).toEqual(['{"event": "STOP"}']);
      expect(await returned(client, 'query-status')).toBe('{"status": "paused", "singlestep": false, "running": false}');
      expect(await returned(client, 'human-monitor-command', new Map([['command-line', 'info status']]))).toBe('"VM status: paused\\r\\n"');
      expect(await returned(client, 'cont')).toBe('{}');
      expect(events).toEqual(['{"event": "STOP"}', '{"event": "RESUME"}']);
      expect(await returned(client, 'query-status')).toBe('{"status": "running", "singlestep": false, "running": true}');

      const cpus = JSON.parse(await returned(client, 'query-cpus-fast')) as { 'thread-id': number; 'cpu-index': number }[];
      expect(cpus.map((cpu) => cpu['cpu-index'])).toEqual([0]);
      const tid = cpus[0]!['thread-id'];
      expect(tid).not.toBe(child.pid);
      expect(existsSync(`/proc/${child.pid}/task/${tid}`)).toBe(true);
      expect(await returned(client, 'human-monitor-command', new Map([['command-line', 'info cpus']]))).toBe(`"* CPU #0: thread_id=${tid}\\r\\n"`);

      // A machine reset: the guest boots again (its prompt a second time) and runs on, with QEMU's RESET.
      expect(await returned(client, 'system_reset')).toBe('{}');
      expect(events.at(-1)).toBe('{"event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}');
      await untilOutput('echo> echo> ');
      expect(await returned(client, 'query-status')).toBe('{"status": "running", "singlestep": false, "running": true}');
      expect(await returned(client, 'quit')).toBe('{}');
      expect(events.at(-1)).toBe('{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}');
      const result = await exit;
      expect(result.stdout).toBe('echo> echo> ');
      expect(result.status).toBe(0);
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });

  it('the guest powering off: SHUTDOWN "guest-shutdown", and its status', async () => {
    const { child, client, events, exit, untilOutput } = await startEcho('poweroff');
    try {
      expect(await returned(client, 'query-status')).toBe('{"status": "running", "singlestep": false, "running": true}');
      // Typed once the guest prompts, as a person would: the guest's UART set-up clears its
      // receive FIFO, so a byte that came before it is gone, as on a PC.
      await untilOutput('echo> ');
      child.stdin.end('hi\n');
      const result = await exit;
      expect(result.stdout).toBe('echo> you typed: hi\n');
      expect(result.status).toBe(0);
      expect(events).toEqual(['{"event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}']);
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });

  it('system_reset of a paused guest: RESET, "prelaunch" as QEMU 7.2 says, and cont boots it again', async () => {
    const { child, client, events, untilOutput } = await startEcho('reset-paused');
    try {
      await untilOutput('echo> ');
      expect(await returned(client, 'stop')).toBe('{}');
      expect(await returned(client, 'human-monitor-command', new Map([['command-line', 'system_reset']]))).toBe('""');
      expect(await returned(client, 'query-status')).toBe('{"status": "prelaunch", "singlestep": false, "running": false}');
      expect(await returned(client, 'cont')).toBe('{}');
      await untilOutput('echo> echo> ');
      expect(events).toEqual(['{"event": "STOP"}', '{"event": "RESET", "data": {"guest": false, "reason": "host-qmp-system-reset"}}', '{"event": "RESUME"}']);
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });

  it('SIGTERM: SHUTDOWN "host-signal", and status 143', async () => {
    const { child, client, events, exit } = await startEcho('signal');
    try {
      expect(await returned(client, 'query-status')).toBe('{"status": "running", "singlestep": false, "running": true}');
      child.kill('SIGTERM');
      const result = await exit;
      expect(result.status).toBe(143);
      expect(events).toEqual(['{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-signal"}}']);
    } finally {
      client.close();
      child.kill('SIGKILL');
    }
  });
});

describe('tsvisor run --qmp, bad endpoints', () => {
  it.each([
    ['unix:/tmp/x.sock,server=maybe', "the option server takes on or off, not 'maybe'"],
    ['unix:/tmp/x.sock,bogus=1', "'bogus=1' is not an option tsvisor's QMP socket takes (it takes server, wait and nowait)"],
    ['tcp:127.0.0.1,server=on', 'the tcp address has no port'],
    ['/tmp/x.sock', "'/tmp/x.sock' is neither a unix: nor a tcp: address"],
    ['unix:/tmp/x.sock,wait=off', "'wait' is for a server socket, and this one connects to a server (add server=on to listen)"],
  ])('%s', async (endpoint, problem) => {
    const result = await tsvisor(['run', 'configs/echo-x86_64.toml', '--qmp', endpoint]);
    expect(result.stderr).toBe(
      `tsvisor: --qmp ${endpoint}: ${problem}. Give the QMP socket as unix:PATH[,server=on][,wait=off] or tcp:[HOST]:PORT[,server=on][,wait=off] (QEMU's -qmp syntax; "server,nowait" also works), for example --qmp unix:/tmp/tsvisor-qmp.sock,server=on,wait=off.\n`,
    );
    expect(result.status).toBe(2);
  });
});
