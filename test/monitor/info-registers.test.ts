/** HMP's `info registers [-a|vcpu]`: which CPUs it prints, and its refusals in QEMU 7.2's words (measured with -smp 2). */
import { describe, expect, it } from 'vitest';
import { runHmp } from '../../src/qmp/hmp.js';
import { MachineActions } from '../../src/qmp/machine-actions.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from '../qmp/fake-machine.js';
import { resetCpuState } from './cpu-states.js';

function hmp(cpuIndex = 0) {
  const machine = new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [11, 12], []);
  machine.dumpState = resetCpuState;
  const context = { actions: new MachineActions(machine, () => {}), version: qmpVersion('0.1.0'), cpuIndex, afterReply: () => {} };
  return { machine, run: (line: string) => runHmp(line, context) };
}

describe('info registers', () => {
  it('reads the current CPU by default, every CPU with -a, one by number (decimal or hex)', async () => {
    for (const [line, current, reads] of [
      ['info registers', 1, ['cpu dump 1']],
      ['info registers -a', 0, ['cpu dump 0', 'cpu dump 1']],
      ['info registers 1', 0, ['cpu dump 1']],
      ['info registers 0x1', 0, ['cpu dump 1']],
    ] as const) {
      const { machine, run } = hmp(current);
      const text = await run(line);
      expect(machine.calls, line).toEqual(reads);
      expect(text.match(/CPU#\d/g), line).toEqual(reads.map((read) => `CPU#${read.slice(-1)}`));
    }
  });

  it("refuses as QEMU: a CPU that does not exist, a word that is not a number, a second word", async () => {
    const { run, machine } = hmp();
    expect(await run('info registers 5')).toBe('CPU#5 not available\r\n');
    expect(await run('info registers x')).toBe('invalid char \'x\' in expression\r\nTry "help info registers" for more information\r\n');
    expect(await run('info registers 1 2')).toBe('registers: extraneous characters at the end of line\r\nTry "help info registers" for more information\r\n');
    expect(machine.calls).toEqual([]);
  });

  it('has QEMU\'s help line', async () => {
    expect(await hmp().run('help info registers')).toBe(
      "info registers [-a|vcpu] -- show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; show the current CPU's registers if no argument is specified)\r\n",
    );
  });
});
