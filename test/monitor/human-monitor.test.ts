/**
 * The human monitor's session against QEMU 7.2's, byte for byte (qemu-hmp.json, recorded by
 * record-qemu-hmp.py from -monitor unix:... with -S): the greeting, the echo and redraw of
 * every key, the replies and the prompts. Left out: the greeting's version (7.2.22 there, 7.2.0
 * here) and the lists of every command QEMU has ("info", "help"), which name many that tsvisor
 * does not have.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HumanMonitor } from '../../src/monitor/human-monitor.js';
import { MachineActions } from '../../src/qmp/machine-actions.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from '../qmp/fake-machine.js';

interface Recorded {
  readonly socket: { readonly greeting: string; readonly steps: readonly [string, string][] };
}
const recorded = JSON.parse(readFileSync(new URL('qemu-hmp.json', import.meta.url), 'utf8')) as Recorded;
const COMMAND_LISTS = new Set(['info\n', 'help\n']);

function session(state: FakeMachine['state'] = 'prelaunch') {
  const machine = new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [4711], []);
  machine.state = state;
  const events: string[] = [];
  let output = '';
  let quits = 0;
  const monitor = new HumanMonitor({
    actions: new MachineActions(machine, (event) => events.push(event)),
    version: qmpVersion('0.1.0'),
    write: (text) => (output += text),
    onQuit: () => quits++,
  });
  const take = () => {
    const taken = output;
    output = '';
    return taken;
  };
  const type = async (text: string) => {
    monitor.input(Buffer.from(text, 'latin1'));
    await new Promise((resolve) => setImmediate(resolve));
    return take();
  };
  return { machine, monitor, events, type, take, quits: () => quits };
}

describe('the human monitor, as QEMU 7.2 on a socket', () => {
  it('greets and prompts as QEMU, with its own version', () => {
    const { monitor, take } = session();
    monitor.greet();
    expect(take()).toBe("QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) ");
    expect(recorded.socket.greeting).toBe("QEMU 7.2.22 monitor - type 'help' for more information\r\n(qemu) ");
  });

  it('echoes, edits, answers and prompts byte for byte as QEMU did, step by step', async () => {
    const { monitor, type, take, machine, events } = session();
    monitor.greet();
    take();
    for (const [input, expected] of recorded.socket.steps) {
      const output = await type(input);
      if (COMMAND_LISTS.has(input)) continue;
      if (input === 'quit\n') expect(`${output}<EOF>`, 'quit').toBe(expected);
      else expect(output, JSON.stringify(input)).toBe(expected);
    }
    expect(machine.calls).toEqual(['resume', 'quit']);
    expect(events).toEqual(['RESUME', 'SHUTDOWN']);
  });

  it('takes input that comes while a command runs after that command, in order', async () => {
    const { monitor, type, machine, take } = session('running');
    monitor.greet();
    take();
    let release!: () => void;
    machine.pause = () => new Promise<void>((resolve) => (release = () => ((machine.state = 'paused'), resolve())));
    monitor.input(Buffer.from('stop\ninfo status\n'));
    await new Promise((resolve) => setImmediate(resolve));
    expect(take()).toBe('s\x1b[K\x1b[Dst\x1b[K\x1b[D\x1b[Dsto\x1b[K\x1b[D\x1b[D\x1b[Dstop\x1b[K\r\n');
    release();
    expect(await type('')).toMatch(/^\(qemu\) .*info status\x1b\[K\r\nVM status: paused\r\n\(qemu\) $/);
  });

  it('ends the session on quit: no prompt, nothing read after it', async () => {
    const { monitor, type, take, quits, machine } = session('running');
    monitor.greet();
    take();
    expect(await type('q\ninfo status\n')).toBe('q\x1b[K\r\n');
    expect(quits()).toBe(1);
    expect(machine.calls).toEqual(['quit']);
  });
});
