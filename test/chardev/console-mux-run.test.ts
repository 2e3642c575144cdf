/**
 * The console mux and the human monitor in a real run, on a real terminal (a pty the test holds,
 * as the controlling terminal of tsvisor: setsid -c), with the echo guest under KVM:
 * tsvisor-qemu -nographic (QEMU's default mon:stdio), tsvisor run on a terminal (its console:
 * Ctrl-A x, the monitor behind Ctrl-A c, Ctrl-C still stops it), and -monitor on a socket. The
 * mux's bytes are held to QEMU 7.2's in mux.test.ts; here, that each path is wired.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, expect, it } from 'vitest';
import { TermiosFlags as F, terminalModes } from '../../src/chardev/terminal-mode.js';
import { describeKvm } from '../helpers/kvm.js';
import { CLI, REPO } from '../helpers/tsvisor.js';
import { until } from './helpers.js';
import { spawnOnPty, type TestPty } from './test-pty.js';

const TSVISOR_QEMU = join(REPO, 'dist/bundle/tsvisor-qemu.js');
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-mux-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

let pty: TestPty | undefined;
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  pty?.close();
  pty = child = undefined;
});

function start(args: readonly string[]): { exit: Promise<number | null>; pty: TestPty } {
  const started = spawnOnPty([...args]);
  pty = started.pty;
  child = started.child;
  return started;
}

describeKvm('the console mux in a run', () => {
  it('tsvisor-qemu -nographic: COM1 and the monitor share the terminal (ISIG off), Ctrl-A c, info status, Ctrl-A x', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([TSVISOR_QEMU, '-nographic', '-kernel', 'guests/build/echo.bin']);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    expect(terminalModes(pty.slave).lflag & F.ISIG).toBe(0);
    pty.type('\x01c');
    await until(() => pty.output().includes('(qemu) '), 'the monitor');
    expect(pty.output()).toContain("QEMU 7.2.0 monitor - type 'help' for more information\r\r\n(qemu) ");
    pty.type('info status\r');
    await until(() => pty.output().includes('VM status: running\r\r\n(qemu) '), 'the status');
    pty.type('\x01c\x01x');
    expect(await exit).toBe(0);
    expect(pty.output()).toContain('VM status: running\r\r\n(qemu) \r\r\nQEMU: Terminated\r\n\r');
  });

  it('tsvisor-qemu -nographic: what is typed outside the monitor is the guest\'s, Ctrl-C too', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([TSVISOR_QEMU, '-nographic', '-kernel', 'guests/build/echo.bin']);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    pty.type('h\x03i\r');
    expect(await exit).toBe(0);
    expect(pty.output()).toBe('echo> you typed: h\x03i\r\n');
  });

  it('tsvisor run on a terminal: Ctrl-A h helps, Ctrl-A c reaches the monitor, Ctrl-A x ends with status 0', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([CLI, 'run', 'configs/echo-x86_64.toml']);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    expect(terminalModes(pty.slave).lflag & (F.ISIG | F.ICANON | F.ECHO)).toBe(F.ISIG);
    pty.type('\x01h');
    await until(() => pty.output().includes('C-a C-a  sends C-a'), 'the help');
    pty.type('\x01cinfo registers\r');
    await until(() => /RIP=[0-9a-f]{16} RFL=/.test(pty.output()), 'the registers');
    pty.type('\x01c\x01x');
    expect(await exit).toBe(0);
    expect(pty.output()).toContain('tsvisor: terminated (Ctrl-A x)\r\n\r');
  });

  it('tsvisor run on a terminal: Ctrl-C still stops it (status 130)', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([CLI, 'run', 'configs/echo-x86_64.toml']);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    pty.type('\x03');
    expect(await exit).toBe(130);
  });

  it('-monitor on a socket: a session of its own while COM1 runs, stop and cont, info registers while running', { timeout: 30_000 }, async () => {
    const path = join(folder, 'hmp.sock');
    const { exit, pty } = start([TSVISOR_QEMU, '-nodefaults', '-display', 'none', '-serial', 'stdio', '-monitor', `unix:${path},server=on,wait=off`, '-kernel', 'guests/build/echo.bin']);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    const socket = connect(path);
    let received = '';
    socket.setEncoding('latin1').on('data', (text: string) => (received += text));
    await until(() => received.endsWith('(qemu) '), 'the greeting');
    socket.write('info registers\n');
    await until(() => received.includes('XMM15='), 'the registers');
    expect(received).toMatch(/\r\nCPU#0\r\nRAX=[0-9a-f]{16} /);
    socket.write('stop\ninfo status\ncont\ninfo status\n');
    await until(() => received.includes('VM status: running'), 'the statuses');
    expect(received).toContain('VM status: paused\r\n');
    socket.write('quit\n');
    expect(await exit).toBe(0);
  });
});
