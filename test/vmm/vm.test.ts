/** The Vm API in-process: a guest run end to end, and nothing left behind after destroy(). */
import { readFileSync, readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { Uart16550 } from '../../src/devices/uart16550.js';
import type { SerialConsole } from '../../src/vmm/console.js';
import { Vm } from '../../src/vmm/vm.js';
import { describeKvm } from '../helpers/kvm.js';

const REPO = resolve(import.meta.dirname, '../..');

/** A console that keeps the guest's output as text and has no input. */
class CapturingConsole implements SerialConsole {
  text = '';
  write(bytes: Uint8Array): void {
    this.text += Buffer.from(bytes).toString('latin1');
  }
  pumpInput(_uart: Uart16550): void {}
}

const openFds = () => readdirSync('/proc/self/fd').length;
/** The process's virtual size in KiB: guest RAM that is never unmapped would add 16 MiB per VM. */
const virtualKiB = () => Number(/VmSize:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

describeKvm('Vm', () => {
  it('runs the unassigned guest to power-off and counts its unassigned accesses', async () => {
    const console = new CapturingConsole();
    const vm = Vm.create(loadVmConfig(`${REPO}/configs/unassigned-x86_64.toml`), { console, report: () => {} });
    try {
      expect(await vm.run()).toEqual({ kind: 'power-off' });
      expect(console.text).toMatch(/\n9 passed, 0 failed\n$/);
      expect(vm.platform.ioBus.unassigned).toEqual({ reads: 31, writes: 12 });
      expect(vm.platform.mmioBus.unassigned).toEqual({ reads: 4, writes: 4 });
    } finally {
      vm.destroy();
    }
  });

  it('returns the debug-exit value of the hello guest', async () => {
    const console = new CapturingConsole();
    const vm = Vm.create(loadVmConfig(`${REPO}/configs/hello-x86_64.toml`), { console, report: () => {} });
    try {
      expect(await vm.run()).toEqual({ kind: 'debug-exit', value: 21 });
      expect(console.text).toBe('Hello from tsvisor guest\n');
    } finally {
      vm.destroy();
    }
  });

  it('leaves no file descriptor or guest RAM mapping behind after destroy()', async () => {
    const spec = loadVmConfig(`${REPO}/configs/hello-x86_64.toml`);
    const cycle = async () => {
      const vm = Vm.create(spec, { console: new CapturingConsole(), report: () => {} });
      await vm.run();
      vm.destroy();
    };
    await cycle(); // the first run loads koffi, the addon and their mappings
    const [fds, virtual] = [openFds(), virtualKiB()];
    for (let i = 0; i < 10; i++) await cycle();
    expect(openFds()).toBe(fds);
    expect(virtualKiB() - virtual).toBeLessThan(16 * 1024); // ten leaked VMs would be 160 MiB
  });

  it('releases what it built when creation fails part way', () => {
    const spec = loadVmConfig(`${REPO}/configs/hello-x86_64.toml`);
    const fds = openFds();
    const images = spec.images.map((image) => ({ ...image, source: { kind: 'host' as const, path: '/nonexistent' } }));
    expect(() => Vm.create({ ...spec, images }, { console: new CapturingConsole(), report: () => {} })).toThrow(
      'Cannot read the image /nonexistent: ENOENT.',
    );
    expect(openFds()).toBe(fds);
  });
});
