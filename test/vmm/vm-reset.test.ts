/**
 * Vm.reset under KVM: the guest boots again from its entry (its banner a second time), a
 * running VM runs on and a paused one stays paused, an application processor waits for its
 * start-up IPI again, the vCPU threads are the same ones; the guest's own reset (a triple
 * fault) and power-off as the VmOptions choose; and resets racing a stop, each other, or the
 * guest's power-off, neither crash nor hang.
 */
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import { VcpuState } from '../../src/vmm/vm-control.js';
import { ResetError, Vm, type GuestEvent, type VmOptions } from '../../src/vmm/vm.js';
import { describeKvm } from '../helpers/kvm.js';
import { createVmWithOutput, realModeGuestSpec } from '../helpers/vm-output.js';
import { sleep, until } from '../helpers/wait.js';

const REPO = resolve(import.meta.dirname, '../..');
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-vm-reset-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const specOf = (guest: string, base?: string, kernel?: string) => realModeGuestSpec(folder, guest, base, kernel);

async function create(spec: VmSpec, options: Partial<VmOptions> = {}) {
  const made = await createVmWithOutput(folder, spec, options);
  const events: GuestEvent[] = [];
  made.vm.onGuestEvent((event) => events.push(event));
  return { ...made, events };
}
const type = (vm: Vm, text: string) => vm.console.receive(new TextEncoder().encode(text));

describeKvm('Vm.reset', () => {
  it('boots a running guest again (its prompt twice), on the same vCPU thread, and it runs on to its power-off', async () => {
    const { vm, output, destroy } = await create(specOf('echo'));
    try {
      const thread = vm.threadIds[0];
      const run = vm.run();
      await until(() => output() === 'echo> ', 'the first prompt');
      type(vm, 'lost'); // in the UART's receive FIFO: the reset empties it
      expect(await vm.reset()).toBe(true);
      await until(() => output() === 'echo> echo> ', 'the prompt after the reset');
      expect(vm.threadIds[0]).toBe(thread);
      type(vm, 'hi\n');
      expect(await run).toEqual({ kind: 'power-off' });
      expect(output()).toBe('echo> echo> you typed: hi\n');
    } finally {
      await destroy();
    }
  });

  it('leaves a paused VM paused, reset; it boots again once resumed', async () => {
    const { vm, output, destroy } = await create(specOf('echo'));
    try {
      void vm.run();
      await until(() => output() === 'echo> ', 'the first prompt');
      await vm.pause();
      expect(await vm.reset()).toBe(true);
      expect(vm.vcpuState(0)).toBe(VcpuState.paused);
      await sleep(100);
      expect(output()).toBe('echo> ');
      vm.resume();
      await until(() => output() === 'echo> echo> ', 'the prompt after resuming');
    } finally {
      await destroy();
    }
  });

  it('resets before run(): the VM is created as before, and runs once run() is called', async () => {
    const { vm, output, destroy } = await create(specOf('echo'));
    try {
      expect(await vm.reset()).toBe(true);
      await sleep(50);
      expect(output()).toBe('');
      void vm.run();
      await until(() => output() === 'echo> ', 'the prompt');
    } finally {
      await destroy();
    }
  });

  it('parks an application processor again: it waits for its start-up IPI, as at power-on', async () => {
    const { vm, output, destroy } = await create(specOf('smp-park', 'cpu_num = 2'));
    try {
      const run = vm.run();
      await until(() => output() === 'bsp\n', "vCPU 0's line");
      expect(await vm.reset()).toBe(true);
      await until(() => output() === 'bsp\nbsp\n', "vCPU 0's line after the reset");
      await sleep(50);
      expect(vm.vcpuState(1)).toBe(VcpuState.parked);
      vm.startVcpu(1, 0x08);
      expect(await run).toEqual({ kind: 'power-off' });
      expect(output()).toBe('bsp\nbsp\nap\n');
    } finally {
      await destroy();
    }
  });

  // The guests that check the devices a reset resets (Local APICs and IPIs on four vCPUs, the
  // HPET, the PIT, timers under load): reset at random points of their run, their last boot
  // passes every check, as a clean run's does (measured counts, which vary from run to run, aside).
  it.each(['smp4', 'apic', 'hpet', 'pit', 'timer-storm'])('resets the %s guest at random points while it runs; its last boot passes every check', { timeout: 90_000 }, async (guest) => {
    const spec = loadVmConfig(`${REPO}/configs/${guest}-x86_64.toml`);
    const clean = await create(spec);
    let expected: { exit: unknown; output: string };
    try {
      expected = { exit: await clean.vm.run(), output: clean.output() };
      expect(expected.output).toMatch(/ passed, 0 failed\n$/);
    } finally {
      await clean.destroy();
    }
    const { vm, output, destroy } = await create(spec);
    try {
      const run = vm.run();
      for (let i = 0; i < 6; i++) {
        await sleep(Math.random() * 40);
        expect(await vm.reset()).toBe(true);
      }
      expect(await run).toEqual(expected.exit);
      const counts = (text: string) => text.replace(/\d+/g, 'N');
      expect(counts(output()).endsWith(counts(expected.output))).toBe(true);
    } finally {
      await destroy();
    }
  });

  it('onGuestReset "reset": a triple fault boots the guest again, each reset told to the listeners', async () => {
    const { vm, output, events, destroy } = await create(loadVmConfig(`${REPO}/configs/triple-fault-x86_64.toml`), { onGuestReset: 'reset' });
    try {
      const run = vm.run();
      await until(() => events.length >= 3, 'three guest resets');
      expect(output().startsWith('about to triple fault\n'.repeat(3))).toBe(true);
      expect(new Set(events.map(({ cause, action }) => `${cause} ${action}`))).toEqual(new Set(['reset reset']));
      await vm.stop();
      expect(await run).toMatchObject({ kind: 'stopped' });
    } finally {
      await destroy();
    }
  });

  it('onGuestPowerOff "pause": the power-off stops the vCPUs, told to the listeners; a reset and a resume boot the guest again', async () => {
    const { vm, output, events, destroy } = await create(specOf('echo'), { onGuestPowerOff: 'pause' });
    try {
      const run = vm.run();
      await until(() => output() === 'echo> ', 'the prompt');
      type(vm, 'a\n');
      await until(() => events.length === 1, 'the power-off');
      expect(events).toEqual([{ cause: 'power-off', action: 'pause' }]);
      expect(vm.vcpuState(0)).toBe(VcpuState.paused);
      expect(await vm.reset()).toBe(true);
      vm.resume();
      await until(() => output() === 'echo> you typed: a\necho> ', 'the prompt after the reset');
      await vm.stop();
      expect(await run).toMatchObject({ kind: 'stopped' });
    } finally {
      await destroy();
    }
  });

  it('a reset that cannot load the kernel again (it changed on disk) fails with ResetError, the VM left paused', async () => {
    const kernel = join(folder, 'echo-copy.bin');
    copyFileSync(`${REPO}/guests/build/echo.bin`, kernel);
    const { vm, output, destroy } = await create(specOf('echo', 'cpu_num = 1', kernel));
    try {
      void vm.run();
      await until(() => output() === 'echo> ', 'the prompt');
      appendFileSync(kernel, 'more');
      await expect(vm.reset()).rejects.toThrow(ResetError);
      expect(vm.vcpuState(0)).toBe(VcpuState.paused);
      vm.resume(); // the host's choice; a later reset would have to succeed for the guest to boot again
    } finally {
      await destroy();
    }
  });

  it('resets racing each other, a stop, or the guest\'s power-off neither crash nor hang', async () => {
    for (const race of ['resets', 'stop', 'power-off'] as const) {
      const { vm, output, destroy } = await create(specOf('echo'));
      try {
        const run = vm.run();
        await until(() => output().endsWith('echo> '), 'the prompt');
        if (race === 'resets') {
          expect(await Promise.all([vm.reset(), vm.reset(), vm.reset()])).toEqual([true, true, true]);
          await until(() => output().endsWith('echo> ') && output().length > 'echo> '.length, 'a prompt after the resets');
        } else if (race === 'stop') {
          const reset = vm.reset();
          await vm.stop();
          expect(typeof (await reset)).toBe('boolean');
          expect(await run).toMatchObject({ kind: 'stopped' });
          expect(await vm.reset()).toBe(false); // an ended VM is not reset
        } else {
          type(vm, 'x\n');
          const reset = vm.reset();
          const [exit, done] = await Promise.all([Promise.race([run, sleep(2000).then(() => 'running')]), reset]);
          // Either the power-off won (the VM ended, the reset gave up), or the reset did (the guest booted again).
          if (done) expect(output().endsWith('echo> ')).toBe(true);
          else expect(exit).toEqual({ kind: 'power-off' });
        }
      } finally {
        await destroy();
      }
    }
  });
});
