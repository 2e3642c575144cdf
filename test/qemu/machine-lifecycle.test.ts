/**
 * The machine's life under tsvisor-qemu against QEMU 7.2 (TCG) running the same command line:
 * the guest rebooting on a triple fault (guests/reboot: "boot 1", "boot 2", "boot 3", then it
 * powers off), -no-reboot ending at the first, -S waiting for cont, and -no-shutdown stopping
 * on the guest's power-off until system_reset and cont (or a signal), over a QMP socket.
 *
 * What differs, on purpose: QEMU's SeaBIOS resets the machine once more on each reboot (it
 * finds a warm boot and resets to be sure of the hardware's state), so QEMU sends more RESET
 * events with guest: true than the guest's reboots; tsvisor boots the guest itself and sends
 * one per reboot. The events are compared without those, and tsvisor's counted on their own.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { QmpClient } from '../../src/qmp/client.js';
import { formatJson } from '../../src/qmp/json-format.js';
import type { JsonObject } from '../../src/qmp/json-value.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO } from '../helpers/tsvisor.js';
import { GUEST_SERIAL_ONLY, QEMU, TSVISOR_QEMU, qemuInstalled, run } from './oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-lifecycle-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const REBOOT = ['-kernel', 'guests/build/reboot.elf32'];
const BOOTS = (count: number) => Array.from({ length: count }, (_, i) => `reboot: boot ${i + 1}\n`).join('');
const GUEST_RESET = '{"event": "RESET", "data": {"guest": true, "reason": "guest-reset"}}';

/** A run of `command` with a QMP socket (wait=off), its COM1 on stdout. */
function start(command: 'qemu' | 'tsvisor', args: readonly string[], name: string) {
  const socket = join(folder, `${command}-${name}.sock`);
  const [file, prefix] = command === 'qemu' ? [QEMU, ['-accel', 'tcg']] : [process.execPath, [TSVISOR_QEMU]];
  const child = spawn(file, [...prefix, ...GUEST_SERIAL_ONLY, ...args, '-qmp', `unix:${socket},server=on,wait=off`], { cwd: REPO });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.resume();
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  const events: string[] = [];
  const connect = async () => {
    for (let tries = 0; ; tries++) {
      try {
        return await QmpClient.connect({ transport: 'unix', path: socket }, (event: JsonObject) => {
          events.push(formatJson(new Map([...event].filter(([key]) => key !== 'timestamp'))));
        });
      } catch (error) {
        if (tries > 200) throw error;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    }
  };
  return { child, exit, events, connect, output: () => stdout };
}

/** The reply to `command` (an HMP line when it has a space), as QEMU's JSON prints it. */
async function reply(client: QmpClient, command: string): Promise<string> {
  const answer = command.includes(' ')
    ? await client.execute('human-monitor-command', new Map([['command-line', command.slice(command.indexOf(' ') + 1)]]))
    : await client.execute(command);
  return 'error' in answer ? formatJson(new Map([['error', new Map([['class', answer.error.class], ['desc', answer.error.desc]])]])) : formatJson(answer.return);
}

const until = async (condition: () => boolean | Promise<boolean>, what: string) => {
  for (let waited = 0; !(await condition()); waited += 20) {
    if (waited > 30_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};

const status = async (client: QmpClient) => (JSON.parse(await reply(client, 'query-status')) as { status: string }).status;

/**
 * -no-shutdown's session: the power-off, cont refused, system_reset, prelaunch, cont, the
 * power-off again, then quit. With -S and a first cont, so that the client sees every event.
 */
async function noShutdownSession(command: 'qemu' | 'tsvisor') {
  const running = start(command, [...REBOOT, '-no-shutdown', '-S'], 'no-shutdown');
  const client = await running.connect();
  try {
    await reply(client, 'cont');
    await until(async () => (await status(client)) === 'shutdown', 'the guest to power off');
    const replies = [];
    for (const step of ['query-status', 'cont', 'human-monitor-command cont', 'system_reset', 'query-status']) replies.push(await reply(client, step));
    await new Promise((resolve) => setTimeout(resolve, 300));
    replies.push(await reply(client, 'query-status')); // still in prelaunch: the guest waits for cont
    const outputBeforeCont = running.output();
    replies.push(await reply(client, 'cont'));
    await until(async () => (await status(client)) === 'shutdown', 'the guest to power off again');
    for (const step of ['query-status', 'human-monitor-command info status', 'stop', 'quit']) replies.push(await reply(client, step));
    return { replies, outputBeforeCont, output: running.output(), events: running.events, status: await running.exit };
  } finally {
    client.close();
    running.child.kill('SIGKILL');
  }
}

describeKvm('the guest resetting the machine, against QEMU 7.2', () => {
  it.runIf(qemuInstalled)('reboots on a triple fault: boot 1, 2 and 3, then the power-off, status 0', { timeout: 60_000 }, () => {
    const [qemu, ours] = [run('qemu', ['-accel', 'tcg', ...GUEST_SERIAL_ONLY, ...REBOOT]), run('tsvisor', [...GUEST_SERIAL_ONLY, ...REBOOT])];
    expect(qemu).toMatchObject({ status: 0, stdout: BOOTS(3) });
    expect({ status: ours.status, stdout: ours.stdout, stderr: ours.stderr }).toEqual({ status: 0, stdout: BOOTS(3), stderr: '' });
  });

  it.runIf(qemuInstalled)('-no-reboot ends at the first triple fault with status 0', { timeout: 60_000 }, () => {
    const [qemu, ours] = [run('qemu', ['-accel', 'tcg', ...GUEST_SERIAL_ONLY, ...REBOOT, '-no-reboot']), run('tsvisor', [...GUEST_SERIAL_ONLY, ...REBOOT, '-no-reboot'])];
    expect(qemu).toMatchObject({ status: 0, stdout: BOOTS(1) });
    expect({ status: ours.status, stdout: ours.stdout }).toEqual({ status: 0, stdout: BOOTS(1) });
  });
});

describeKvm('-S and -no-shutdown over QMP, against QEMU 7.2', () => {
  it.runIf(qemuInstalled)('-S: prelaunch until cont (stop and system_reset leave it there), RESUME, then the guest boots, reboots and powers off', { timeout: 60_000 }, async () => {
    const session = async (command: 'qemu' | 'tsvisor') => {
      const running = start(command, [...REBOOT, '-S'], 'prelaunch');
      const client = await running.connect();
      try {
        const replies = [];
        for (const step of ['query-status', 'human-monitor-command info status', 'stop', 'system_reset', 'query-status']) replies.push(await reply(client, step));
        await new Promise((resolve) => setTimeout(resolve, 300));
        const outputBeforeCont = running.output();
        replies.push(await reply(client, 'cont'));
        const status = await running.exit;
        return { replies, outputBeforeCont, output: running.output(), events: running.events, status };
      } finally {
        client.close();
        running.child.kill('SIGKILL');
      }
    };
    const [qemu, ours] = [await session('qemu'), await session('tsvisor')];
    expect(qemu.replies).toEqual([
      '{"status": "prelaunch", "singlestep": false, "running": false}',
      '"VM status: paused (prelaunch)\\r\\n"',
      '{}', // stop: nothing to stop, no event
      '{}',
      '{"status": "prelaunch", "singlestep": false, "running": false}',
      '{}',
    ]);
    expect(ours.replies).toEqual(qemu.replies);
    expect(ours.outputBeforeCont).toBe('');
    expect(ours.output).toBe(qemu.output);
    expect(ours.status).toBe(qemu.status);
    expect(ours.events.filter((event) => event !== GUEST_RESET)).toEqual(qemu.events.filter((event) => event !== GUEST_RESET));
    expect(ours.events.filter((event) => event === GUEST_RESET)).toHaveLength(2);
  });

  it.runIf(qemuInstalled)('-no-shutdown: SHUTDOWN then STOP, "shutdown", cont refused until system_reset, prelaunch, cont boots the guest again', { timeout: 90_000 }, async () => {
    const [qemu, ours] = [await noShutdownSession('qemu'), await noShutdownSession('tsvisor')];
    expect(qemu.replies).toEqual([
      '{"status": "shutdown", "singlestep": false, "running": false}',
      '{"error": {"class": "GenericError", "desc": "Resetting the Virtual Machine is required"}}',
      '"Error: Resetting the Virtual Machine is required\\r\\n"',
      '{}',
      '{"status": "prelaunch", "singlestep": false, "running": false}',
      '{"status": "prelaunch", "singlestep": false, "running": false}',
      '{}',
      '{"status": "shutdown", "singlestep": false, "running": false}',
      '"VM status: paused (shutdown)\\r\\n"',
      '{}',
      '{}',
    ]);
    expect(ours.replies).toEqual(qemu.replies);
    expect(ours.outputBeforeCont).toBe(BOOTS(3));
    expect(ours.output).toBe(BOOTS(4));
    expect(qemu.output).toBe(BOOTS(4));
    expect(ours.status).toBe(qemu.status);
    expect(ours.events.filter((event) => event !== GUEST_RESET)).toEqual(qemu.events.filter((event) => event !== GUEST_RESET));
    expect(ours.events.filter((event) => event === GUEST_RESET)).toHaveLength(2);
  });

  it.runIf(qemuInstalled)('-no-shutdown without a monitor: the VM stays after the power-off, and SIGTERM ends it with status 0', { timeout: 60_000 }, async () => {
    for (const command of ['qemu', 'tsvisor'] as const) {
      const [file, prefix] = command === 'qemu' ? [QEMU, ['-accel', 'tcg']] : [process.execPath, [TSVISOR_QEMU]];
      const child = spawn(file, [...prefix, ...GUEST_SERIAL_ONLY, ...REBOOT, '-no-shutdown'], { cwd: REPO });
      let stdout = '';
      child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
      const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        await until(() => stdout === BOOTS(3), `${command}: the third boot`);
        const ended = await Promise.race([exit.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 500))]);
        expect(ended).toBe(false);
        child.kill('SIGTERM');
        expect(await exit).toBe(0);
        expect(stderr).toMatch(/terminating on signal 15/);
      } finally {
        child.kill('SIGKILL');
      }
    }
  });
});

describeKvm('-S without a monitor', () => {
  it('waits with the vCPUs stopped; SIGINT ends it with status 0, the guest never run', { timeout: 30_000 }, async () => {
    const child = spawn(process.execPath, [TSVISOR_QEMU, ...GUEST_SERIAL_ONLY, ...REBOOT, '-S'], { cwd: REPO });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      child.kill('SIGINT');
      expect(await exit).toBe(0);
      expect(stdout).toBe('');
    } finally {
      child.kill('SIGKILL');
    }
  });
});
