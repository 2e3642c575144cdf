/** The --qmp endpoint syntax (QEMU's -qmp, its defaults measured with QEMU 7.2), and the Vm adapter's policy, without KVM. */
import { describe, expect, it } from 'vitest';
import type { CpuDumpState } from '../../src/monitor/cpu-dump.js';
import { endpointFilename, parseQmpEndpoint } from '../../src/qmp/endpoint.js';
import { QmpError } from '../../src/qmp/qmp-error.js';
import { shutdownEventOf, VmMachine, type QmpVm } from '../../src/qmp/vm-adapter.js';
import { VcpuState } from '../../src/vmm/vm-control.js';

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

  it('cannot reset: a QEMU-shaped GenericError says so', async () => {
    const error = await new VmMachine(vm(), []).reset().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(QmpError);
    expect(error).toMatchObject({ errorClass: 'GenericError', message: expect.stringMatching(/^tsvisor cannot reset a VM yet/) });
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
