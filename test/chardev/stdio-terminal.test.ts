/**
 * -serial stdio on a real terminal (a pty the test holds): raw mode while the VM runs, as
 * QEMU 7.2 sets it (compared on a pty with Python's termios while qemu-system-x86_64 -serial
 * stdio -S ran: lflag 05061 from 0105073, that is ICANON, ECHO, ECHONL and IEXTEN cleared,
 * ISIG kept; iflag 0 from 02400, ICRNL and IXON cleared; OPOST kept; with
 * -chardev stdio,signal=off, ISIG cleared too), and the terminal's modes back on every way
 * out: the guest powering off, SIGINT (Ctrl-C typed at the terminal, which ISIG turns into
 * the signal), SIGTERM, an uncaught exception, and SIGKILL (QEMU leaves the terminal raw
 * there; tsvisor's guardian restores it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TermiosFlags as F, terminalModes, type TermiosModes } from '../../src/chardev/terminal-mode.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO } from '../helpers/tsvisor.js';
import { until } from './helpers.js';
import { openTestPty, spawnOnPty, type TestPty } from './test-pty.js';

const TSVISOR_QEMU = join(REPO, 'dist/bundle/tsvisor-qemu.js');
const ECHO_GUEST = ['-nodefaults', '-display', 'none', '-kernel', 'guests/build/echo.bin'];

let pty: TestPty | undefined;
let child: ChildProcess | undefined;
afterEach(() => {
  child?.kill('SIGKILL');
  pty?.close();
  pty = child = undefined;
});

/** tsvisor-qemu with the pty as its controlling terminal and stdio (setsid -c), as a shell would run it. */
function start(args: readonly string[]): { exit: Promise<number | null>; pty: TestPty } {
  const started = spawnOnPty([TSVISOR_QEMU, ...args]);
  pty = started.pty;
  child = started.child;
  return started;
}

function expectRaw(modes: TermiosModes, keepSignals: boolean): void {
  expect(modes.lflag & (F.ICANON | F.ECHO | F.ECHONL | F.IEXTEN)).toBe(0);
  expect(modes.lflag & F.ISIG).toBe(keepSignals ? F.ISIG : 0);
  expect(modes.iflag & (F.ICRNL | F.IXON | F.INLCR | F.IGNCR)).toBe(0);
  expect(modes.oflag & F.OPOST).toBe(F.OPOST);
}

describeKvm('-serial stdio on a terminal', () => {
  it('is raw while the guest runs (ISIG kept), and restored once the guest powers off', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([...ECHO_GUEST, '-serial', 'stdio']);
    const before = terminalModes(pty.slave);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    expectRaw(terminalModes(pty.slave), true);
    pty.type('hi\r');
    expect(await exit).toBe(0);
    expect(terminalModes(pty.slave)).toEqual(before);
    // No echo from the terminal (the line typed is not shown: the echo guest does not echo it); OPOST kept, so "\n" is "\r\n".
    expect(pty.output()).toBe('echo> you typed: hi\r\n');
  });

  it('stops on Ctrl-C (QEMU\'s signal=on) and restores the terminal', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([...ECHO_GUEST, '-serial', 'stdio']);
    const before = terminalModes(pty.slave);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    pty.type('\x03');
    expect(await exit).toBe(0);
    expect(pty.output()).toContain('tsvisor-qemu: terminating on signal 2');
    expect(terminalModes(pty.slave)).toEqual(before);
  });

  it('with signal=off, passes Ctrl-C to the guest, and restores the terminal on SIGTERM', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([...ECHO_GUEST, '-chardev', 'stdio,id=con,signal=off', '-serial', 'chardev:con']);
    const before = terminalModes(pty.slave);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    expectRaw(terminalModes(pty.slave), false);
    pty.type('\x03');
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(child?.exitCode).toBe(null);
    child?.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(terminalModes(pty.slave)).toEqual(before);
  });

  it('is restored by the guardian when tsvisor is killed outright (SIGKILL)', { timeout: 30_000 }, async () => {
    const { exit, pty } = start([...ECHO_GUEST, '-serial', 'stdio']);
    const before = terminalModes(pty.slave);
    await until(() => pty.output().includes('echo> '), 'the prompt', 15_000);
    expectRaw(terminalModes(pty.slave), true);
    child?.kill('SIGKILL');
    await exit;
    await until(() => terminalModes(pty.slave).lflag === before.lflag, 'the guardian\'s restore');
    expect(terminalModes(pty.slave)).toEqual(before);
  });
});

describe('a raw terminal and an uncaught exception', () => {
  it('is restored by the process\'s exit hook', { timeout: 30_000 }, async () => {
    pty = openTestPty();
    const script = `import { openStdioBackend } from ${JSON.stringify(join(REPO, 'dist/chardev/stdio-backend.js'))};
      openStdioBackend(true); process.stdout.write('raw\\n'); setTimeout(() => { throw new Error('boom'); }, 300);`;
    child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: [pty.slave, pty.slave, pty.slave] });
    const exit = new Promise<number | null>((resolve) => child!.on('close', resolve));
    const before = terminalModes(pty.slave);
    await until(() => pty!.output().includes('raw'), 'raw mode');
    expectRaw(terminalModes(pty.slave), true);
    expect(await exit).toBe(1);
    expect(pty.output()).toContain('Error: boom');
    expect(terminalModes(pty.slave)).toEqual(before);
  });
});
