/**
 * The console mux, against QEMU 7.2's -serial mon:stdio on a pseudo-terminal (qemu-hmp.json's
 * "mux" session, recorded by test/monitor/record-qemu-hmp.py): the bytes the terminal shows
 * for Ctrl-A h, c and x and for the monitor behind it. The recording is what the terminal's
 * master read, after the terminal turned each "\n" into "\r\n" (OPOST, ONLCR); the test does
 * the same to what the mux and the monitor wrote.
 */
import { readFileSync } from 'node:fs';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ConsoleMux } from '../../src/chardev/mux.js';
import { HumanMonitor } from '../../src/monitor/human-monitor.js';
import { MachineActions } from '../../src/qmp/machine-actions.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from '../qmp/fake-machine.js';

interface Recorded {
  readonly mux: { readonly start: string; readonly steps: readonly [string, string][]; readonly status: number };
}
const recorded = JSON.parse(readFileSync(new URL('../monitor/qemu-hmp.json', import.meta.url), 'utf8')) as Recorded;
const onlcr = (text: string) => text.replace(/\n/g, '\r\n');

function mux(withMonitor = true) {
  const terminal = new PassThrough();
  let shown = '';
  const consoleBytes: number[] = [];
  let quits = 0;
  const machine = new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [1], []);
  machine.state = 'prelaunch';
  const write = (text: string) => (shown += onlcr(text));
  const monitor = new HumanMonitor({ actions: new MachineActions(machine, () => {}), version: qmpVersion('0.1.0'), write });
  const consoleMux = new ConsoleMux(terminal, { ...(withMonitor ? { monitor } : {}), write, quit: () => quits++ });
  consoleMux.console.on('data', (chunk: Buffer) => consoleBytes.push(...chunk));
  const type = async (text: string) => {
    terminal.write(Buffer.from(text, 'latin1'));
    await new Promise((resolve) => setImmediate(resolve));
    const taken = shown;
    shown = '';
    return taken;
  };
  return { type, consoleBytes, quits: () => quits };
}

describe('ConsoleMux, as QEMU 7.2 on a terminal', () => {
  it('shows what QEMU showed for each Ctrl-A command and for the monitor behind it', async () => {
    const { type, quits } = mux();
    expect(recorded.mux.start).toBe('');
    for (const [input, expected] of recorded.mux.steps) {
      const output = await type(input);
      if (input === '\x01c' && expected.startsWith('QEMU 7.2.22 monitor')) expect(output).toBe(expected.replace('7.2.22', '7.2.0'));
      else if (input === '\x01x') expect(`${output}<EOF>`).toBe(expected);
      else expect(output, JSON.stringify(input)).toBe(expected);
    }
    expect(quits()).toBe(1);
    expect(recorded.mux.status).toBe(0);
  });

  it('gives the console everything but its commands: Ctrl-A Ctrl-A is one Ctrl-A, an unknown command is dropped', async () => {
    const { type, consoleBytes } = mux();
    await type('ab\x01\x01c\x01zd\x03');
    await type('\x01');
    await type('\x01e');
    expect(Buffer.from(consoleBytes).toString('latin1')).toBe('ab\x01cd\x03\x01e');
  });

  it('gives the monitor the input while it has the focus, and the console after Ctrl-A c again', async () => {
    const { type, consoleBytes } = mux();
    await type('\x01c');
    expect(await type('x')).toBe('x\x1b[K');
    await type('\x01cy');
    expect(Buffer.from(consoleBytes).toString('latin1')).toBe('y');
  });

  it('without a monitor (tsvisor run), Ctrl-A c does nothing and Ctrl-A x still quits', async () => {
    const { type, consoleBytes, quits } = mux(false);
    expect(await type('\x01cz\x01x')).toBe('QEMU: Terminated\r\n\r');
    expect(Buffer.from(consoleBytes).toString('latin1')).toBe('z');
    expect(quits()).toBe(1);
  });

  it('pauses the terminal while the console has not taken its input, and resumes once it has', async () => {
    const terminal = new PassThrough();
    const consoleMux = new ConsoleMux(terminal, { write: () => {}, quit: () => {} });
    const big = Buffer.alloc(64 * 1024, 0x61);
    terminal.write(big);
    await new Promise((resolve) => setImmediate(resolve));
    expect(terminal.isPaused()).toBe(true);
    let taken = 0;
    consoleMux.console.on('data', (chunk: Buffer) => (taken += chunk.length));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(taken).toBe(big.length);
    expect(terminal.isPaused()).toBe(false);
  });
});
