/** The --qmp endpoint syntax (QEMU's -qmp, its defaults measured with QEMU 7.2), and the Vm adapter's policy, without KVM. */
import { describe, expect, it } from 'vitest';
import type { CpuDumpState } from '../../src/monitor/cpu-dump.js';
import { endpointFilename, parseQmpEndpoint } from '../../src/qmp/endpoint.js';
import { MachineActions } from '../../src/qmp/machine-actions.js';
import type { QmpMachine, RunState } from '../../src/qmp/machine.js';
import { shutdownEventOf, VmMachine, type QmpVm } from '../../src/qmp/vm-adapter.js';
import { VcpuState } from '../../src/vmm/vm-control.js';
import { ResetError } from '../../src/vmm/vm.js';

describe('parseQmpEndpoint', () => {
  it.each([
    // QEMU: a server waits for its first client unless told not to; without server=on the socket connects out.
    ['unix:/tmp/q.sock,server=on', { transport: 'unix', path: '/tmp/q.sock', server: true, wait: true }],
    ['unix:/tmp/q.sock,server=on,wait=off', { transport: 'unix', path: '/tmp/q.sock', server: true, wait: false }],
    ['unix:/tmp/q.sock,server,nowait', { transport: 'unix', path: '/tmp/q.sock', server: true, wait: false }],
    ['unix:/tmp/q.sock', { transport: 'unix', path: '/tmp/q.sock', server: false, wait: false }],
    ['tcp:127.0.0.1:4444,server=on,wait=off', { transport: 'tcp', host: '127.0.0.1', port: 4444, server: true, wait: false }],
    ['tcp::4444,server,wait=off', { transport: 'tcp', host: '', port: 4444, server: true, wait: false }],
    ['tcp:[::1]:4444,server=on', { transport: 'tcp', host: '::1', port: 4444, server: true, wait: true }],
  ])('%s', (text, endpoint) => {
    expect(parseQmpEndpoint(text)).toEqual(endpoint);
  });

  it('names a socket as QEMU\'s query-chardev does', () => {
    expect(endpointFilename(parseQmpEndpoint('unix:/tmp/q.sock,server,nowait'))).toBe('unix:/tmp/q.sock,server=on');
  });

  it.each(['tcp:127.0.0.1:99999,server=on', 'tcp:host:port,server=on', 'unix:,server=on', 'tcp::4444'])('refuses %s', (text) => {
    expect(() => parseQmpEndpoint(text)).toThrow(/^--qmp /);
  });
});

describe('VmMachine', () => {
  const vm = (): QmpVm & { log: string[] } => {
    const log: string[] = [];
    return {
      log,
      spec: { name: 'guest' },
      threadIds: [11, 12],
      pause: async () => void log.push('pause'),
      resume: () => void log.push('resume'),
      stop: async () => void log.push('stop'),
      reset: async () => (log.push('reset'), true),
      vcpuState: (id) => (id === 1 ? VcpuState.parked : VcpuState.running),
      cpuDumpState: (id, halted) => {
        log.push(`dump ${id} halted=${halted}`);
        return { halted } as CpuDumpState;
      },
    };
  };

  it('reads a running vCPU\'s registers between a pause and a resume, and a paused one\'s as it is', async () => {
    const target = vm();
    const machine = new VmMachine(target, []);
    machine.started(new Promise<void>(() => {}));
    expect((await machine.cpuDump(0)).halted).toBe(false);
    expect((await machine.cpuDump(1)).halted).toBe(true);
    await machine.pause();
    await machine.cpuDump(0);
    expect(target.log).toEqual(['pause', 'dump 0 halted=false', 'resume', 'pause', 'dump 1 halted=true', 'resume', 'pause', 'dump 0 halted=false']);
  });

  it('is in prelaunch until the run starts, then running, paused, running, and shutdown once the run ends', async () => {
    const target = vm();
    const machine = new VmMachine(target, []);
    expect(machine.runState()).toBe('prelaunch');
    let end!: () => void;
    machine.started(new Promise<void>((resolve) => (end = resolve)));
    expect(machine.runState()).toBe('running');
    await machine.pause();
    expect(machine.runState()).toBe('paused');
    machine.resume();
    expect(machine.runState()).toBe('running');
    end();
    await new Promise((resolve) => setImmediate(resolve));
    expect(machine.runState()).toBe('shutdown');
    expect(target.log).toEqual(['pause', 'resume']);
  });

  it('a pause that the VM never completes ends when the VM ends', async () => {
    const target = { ...vm(), pause: () => new Promise<void>(() => {}) };
    const machine = new VmMachine(target, []);
    let end!: () => void;
    machine.started(new Promise<void>((resolve) => (end = resolve)));
    const paused = machine.pause();
    end();
    await paused;
    expect(machine.runState()).toBe('shutdown');
  });

  it('resets the VM: a running machine runs on; a paused one waits in prelaunch, as QEMU 7.2\'s does', async () => {
    const target = vm();
    const machine = new VmMachine(target, []);
    machine.started(new Promise<void>(() => {}));
    await machine.reset();
    expect(machine.runState()).toBe('running');
    await machine.pause();
    await machine.reset();
    expect(machine.runState()).toBe('prelaunch');
    machine.resume();
    expect(machine.runState()).toBe('running');
    expect(target.log).toEqual(['reset', 'pause', 'reset', 'resume']);
  });

  it('-S: prelaunch until cont; -no-shutdown: shutdown once the guest powered off, prelaunch after a reset', async () => {
    const machine = new VmMachine(vm(), []);
    machine.started(new Promise<void>(() => {}), { paused: true });
    expect(machine.runState()).toBe('prelaunch');
    machine.resume();
    expect(machine.runState()).toBe('running');
    machine.guestStopped('shutdown');
    expect(machine.runState()).toBe('shutdown');
    await machine.reset();
    expect(machine.runState()).toBe('prelaunch');
  });

  it('a reset that fails leaves the machine paused, and answers a GenericError saying why', async () => {
    const machine = new VmMachine({ ...vm(), reset: async () => Promise.reject(new ResetError('The machine reset stopped halfway, so the VM stays paused (...)')) }, []);
    machine.started(new Promise<void>(() => {}));
    const error = await machine.reset().catch((caught: unknown) => caught);
    expect(error).toMatchObject({ errorClass: 'GenericError', message: expect.stringMatching(/^The machine reset stopped halfway/) });
    expect(machine.runState()).toBe('paused');
  });

  it('a reset that finds the VM ended leaves the state alone', async () => {
    const machine = new VmMachine({ ...vm(), reset: async () => false }, []);
    machine.started(new Promise<void>(() => {}));
    machine.guestStopped('shutdown');
    await machine.reset();
    expect(machine.runState()).toBe('shutdown');
  });

  it('quit stops the VM; the name and thread ids are the VM\'s', () => {
    const target = vm();
    const machine = new VmMachine(target, []);
    machine.quit();
    expect(target.log).toEqual(['stop']);
    expect(machine.name).toBe('guest');
    expect(machine.vcpuThreadIds()).toEqual([11, 12]);
  });
});

describe('MachineActions.cont, as QEMU 7.2 answers it', () => {
  const actionsIn = (state: RunState) => {
    const events: string[] = [];
    const machine = { runState: () => state, resume: () => void events.push('resumed') } as unknown as QmpMachine;
    return { actions: new MachineActions(machine, (event) => void events.push(event)), events };
  };

  it('resumes a paused machine and a -S one in prelaunch, with RESUME; leaves a running one alone', () => {
    for (const state of ['paused', 'prelaunch'] as const) {
      const { actions, events } = actionsIn(state);
      actions.cont();
      expect(events).toEqual(['resumed', 'RESUME']);
    }
    const { actions, events } = actionsIn('running');
    actions.cont();
    expect(events).toEqual([]);
  });

  it('refuses a machine the guest shut down (-no-shutdown) until it is reset', () => {
    const { actions, events } = actionsIn('shutdown');
    expect(() => actions.cont()).toThrow(expect.objectContaining({ errorClass: 'GenericError', message: 'Resetting the Virtual Machine is required' }));
    expect(events).toEqual([]);
  });
});

describe('shutdownEventOf', () => {
  it.each([
    [{ kind: 'power-off' }, { guest: true, reason: 'guest-shutdown' }],
    [{ kind: 'stopped', signal: 'SIGTERM' }, { guest: false, reason: 'host-signal' }],
    [{ kind: 'stopped', signal: undefined }, undefined],
    [{ kind: 'debug-exit', value: 21 }, undefined],
  ] as const)('%o', (exit, event) => {
    expect(shutdownEventOf(exit)).toEqual(event);
  });
});
