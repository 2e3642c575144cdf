/**
 * The Vm API in-process, with every vCPU on a worker thread: guests run to their end, an
 * application processor stays parked until started, pause and resume, kicks and wakes,
 * pinning, statistics, and nothing left behind after destroy().
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import { idleVcpuThreadCount } from '../../src/vmm/vcpu-threads.js';
import { VcpuState } from '../../src/vmm/vm-control.js';
import { Vm, type VmOptions } from '../../src/vmm/vm.js';
import { openOutputWriter } from '../../src/host/output-writer.js';
import { describeKvm } from '../helpers/kvm.js';
import { createVmWithOutput, realModeGuestSpec } from '../helpers/vm-output.js';
import { sleep, until } from '../helpers/wait.js';

const REPO = resolve(import.meta.dirname, '../..');
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-vm-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const specOf = (guest: string, base?: string) => realModeGuestSpec(folder, guest, base);
const create = (spec: VmSpec, options: Partial<VmOptions> = {}) => createVmWithOutput(folder, spec, options);

const openFds = () => readdirSync('/proc/self/fd').length;
const hostThreads = () => readdirSync('/proc/self/task').length;
/** The mappings a VM makes: its guest RAM (16 MiB here) and each vCPU's kvm_run page. */
const leakableMappings = () => {
  const lines = readFileSync('/proc/self/maps', 'utf8').split('\n').filter((line) => line);
  const size = (line: string) => {
    const [start = 0, end = 0] = (line.split(' ')[0] ?? '').split('-').map((hex) => Number.parseInt(hex, 16));
    return end - start;
  };
  return { guestRam: lines.filter((line) => size(line) === 0x100_0000).length, kvmRun: lines.filter((line) => line.includes('anon_inode:kvm')).length };
};
const residentKiB = () => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);

describeKvm('Vm, vCPUs on worker threads', () => {
  it('runs the hello guest to its debug exit, its output in order on the serial file', async () => {
    const { vm, output, destroy } = await create(loadVmConfig(`${REPO}/configs/hello-x86_64.toml`));
    try {
      const [vcpuThread] = vm.threadIds; // read while the worker lives: it clears its tid as it ends
      expect(vcpuThread).toBeGreaterThan(0);
      expect(vcpuThread).not.toBe(process.pid); // the vCPU runs on its own thread
      expect(await vm.run()).toEqual({ kind: 'debug-exit', value: 21 });
      expect(output()).toBe('Hello from tsvisor guest\n');
    } finally {
      await destroy();
    }
  });

  it('boots with RAM up to 0xffffffff (a UEFI flash window), KVM\'s real-mode pages placed below it', async () => {
    const path = join(folder, 'flash-window.toml');
    writeFileSync(path, readFileSync(`${REPO}/configs/hello-x86_64.toml`, 'utf8').replace('memory_regions = [', 'memory_regions = [\n    [0xffc0_0000, 0x40_0000, 0x7, 0],').replaceAll('../guests/', `${REPO}/guests/`));
    const spec = loadVmConfig(path);
    expect(spec.kvmRealModeArea).toBe(0xfeffc000);
    const { vm, output, destroy } = await create(spec);
    try {
      expect(await vm.run()).toEqual({ kind: 'debug-exit', value: 21 });
      expect(output()).toBe('Hello from tsvisor guest\n');
    } finally {
      await destroy();
    }
  });

  it('counts exits by reason and accesses by device', async () => {
    const { vm, destroy } = await create(loadVmConfig(`${REPO}/configs/unassigned-x86_64.toml`), { timeStats: true });
    try {
      expect(await vm.run()).toEqual({ kind: 'power-off' });
      const stats = vm.stats();
      expect(stats.timed).toBe(true);
      const device = (name: string) => stats.devices.find((entry) => entry.device === name);
      expect(device('unassigned I/O ports')).toMatchObject({ reads: 31, writes: 12 });
      expect(device('unassigned MMIO')).toMatchObject({ reads: 4, writes: 4 });
      expect(device('ACPI PM1a control')).toMatchObject({ reads: 0, writes: 1 });
      const io = stats.exits.find((exit) => exit.reason === 'KVM_EXIT_IO');
      expect(io?.vcpu).toBe(0);
      expect(io?.count).toBeGreaterThan(100);
      expect(stats.exits.find((exit) => exit.reason === 'KVM_EXIT_MMIO')?.count).toBe(8);
    } finally {
      await destroy();
    }
  });

  it('keeps an application processor parked until its start request, then lets its power-off end the VM', async () => {
    const { vm, output, destroy } = await create(specOf('smp-park', 'cpu_num = 2'));
    try {
      expect(vm.threadIds.filter((tid) => tid > 0)).toHaveLength(2); // two workers
      const ended = vm.run();
      await vm.waitForVcpuState(0, VcpuState.halted);
      await until(() => output() === 'bsp\n', "vCPU 0's line (the main thread writes COM1's output)");
      await sleep(50);
      expect(vm.vcpuState(1)).toBe(VcpuState.parked);
      vm.startVcpu(1, 0x08); // INIT + SIPI: start in real mode at 0x8000
      expect(await ended).toEqual({ kind: 'power-off' });
      expect(output()).toBe('bsp\nap\n');
    } finally {
      await destroy();
    }
  });

  it('pauses a guest counting in a loop, and resumes it', async () => {
    const { vm, destroy } = await create(specOf('counter'));
    const counter = () => vm.memory.read32(0x7000);
    try {
      void vm.run();
      await until(() => counter() > 1000, 'the guest to count');
      await vm.pause(); // the vCPU spins inside the guest: only a kick gets it out
      expect(vm.vcpuState(0)).toBe(VcpuState.paused);
      const paused = counter();
      await sleep(50);
      expect(counter()).toBe(paused);
      vm.resume();
      await until(() => counter() > paused + 1000, 'the guest to count again');
    } finally {
      await destroy();
    }
  });

  it('kicks a vCPU spinning inside the guest out of KVM_RUN', async () => {
    const { vm, destroy } = await create(specOf('counter'));
    try {
      void vm.run();
      await until(() => vm.memory.read32(0x7000) > 1000, 'the guest to count');
      const before = process.hrtime.bigint();
      vm.kick(0);
      await until(() => vm.timestamp(0, 'kick-handled') > before, 'the kick to be handled');
      expect(vm.vcpuState(0)).toBe(VcpuState.running); // and it went straight back in
    } finally {
      await destroy();
    }
  });

  it('keeps a halted guest halted through kicks, and wakes it with an interrupt (SDM vol. 2A, HLT)', async () => {
    const { vm, destroy } = await create(specOf('halt-loop'));
    const wakes = () => vm.memory.read32(0x7004);
    try {
      void vm.run();
      await vm.waitForVcpuState(0, VcpuState.halted);
      expect(wakes()).toBe(0);
      const kicked = process.hrtime.bigint();
      vm.kick(0);
      await sleep(50);
      expect(vm.vcpuState(0)).toBe(VcpuState.halted);
      expect(vm.timestamp(0, 'woken')).toBeLessThan(kicked);
      vm.interrupt(0, 0x40);
      await until(() => wakes() === 1, 'the guest to count its wake');
      await vm.waitForVcpuState(0, VcpuState.halted);
      vm.interrupt(0, 0x40);
      await until(() => wakes() === 2, 'the guest to count its second wake');
      await vm.waitForVcpuState(0, VcpuState.halted);
      expect(wakes()).toBe(2);
    } finally {
      await destroy();
    }
  });

  it('pins each vCPU thread to the host CPUs of phys_cpu_sets', async () => {
    const { vm, destroy } = await create(specOf('smp-park', 'cpu_num = 2\nphys_cpu_sets = [0b10, 0b01]'));
    try {
      expect(vm.threadAffinities).toEqual([[1], [0]]);
      const allowed = (tid: number) => /Cpus_allowed_list:\s+(\S+)/.exec(readFileSync(`/proc/${process.pid}/task/${tid}/status`, 'utf8'))?.[1];
      expect(vm.threadIds.map(allowed)).toEqual(['1', '0']);
    } finally {
      await destroy();
    }
    // The threads serve the next VM unpinned again.
    const unpinned = await create(specOf('smp-park', 'cpu_num = 2'));
    try {
      const everyCpu = Array.from({ length: availableParallelism() }, (_cpu, index) => index);
      expect(unpinned.vm.threadAffinities).toEqual([everyCpu, everyCpu]);
    } finally {
      await unpinned.destroy();
    }
  });

  it('leaves no worker, file descriptor, mapping or memory behind: 50 VMs created and destroyed', async () => {
    const spec = loadVmConfig(`${REPO}/configs/hello-x86_64.toml`);
    const threadsUsed = new Set<number>();
    const cycle = async () => {
      const { vm, destroy } = await create(spec);
      threadsUsed.add(vm.threadIds[0] as number);
      await vm.run();
      await destroy();
    };
    await cycle(); // the first loads koffi, the addon and the worker's modules
    const before = { fds: openFds(), threads: hostThreads(), leakable: leakableMappings(), resident: residentKiB() };
    for (let i = 0; i < 50; i++) await cycle();
    // Each kind of leak is looked for where it shows. The count of all mappings is no measure:
    // V8 maps and unmaps its heap's pages as it pleases.
    expect(openFds()).toBe(before.fds);
    expect(hostThreads()).toBe(before.threads);
    // Every VM ran on the one pooled thread: a fresh thread per VM would leave koffi's
    // per-thread stack and heap behind (3 mappings and about 1 MiB each).
    expect(threadsUsed.size).toBe(1);
    expect(leakableMappings()).toEqual(before.leakable);
    expect(residentKiB() - before.resident).toBeLessThan(32 * 1024);
  }, 120_000);

  it('runs the next VM on the last one\'s vCPU thread', async () => {
    const spec = loadVmConfig(`${REPO}/configs/hello-x86_64.toml`);
    const first = await create(spec);
    const [thread] = first.vm.threadIds;
    expect(await first.vm.run()).toEqual({ kind: 'debug-exit', value: 21 });
    await first.destroy();
    const second = await create(spec);
    try {
      expect(second.vm.threadIds).toEqual([thread]);
      expect(await second.vm.run()).toEqual({ kind: 'debug-exit', value: 21 });
      expect(second.output()).toBe('Hello from tsvisor guest\n');
    } finally {
      await second.destroy();
    }
  });

  it('releases what it built when creation fails part way', async () => {
    const spec = loadVmConfig(`${REPO}/configs/hello-x86_64.toml`);
    const [fds, idleThreads] = [openFds(), idleVcpuThreadCount()];
    expect(idleThreads).toBeGreaterThan(0); // left by the tests before: the failed VM takes one
    const images = spec.images.map((image) => ({ ...image, source: { kind: 'host' as const, path: '/nonexistent' } }));
    await expect(Vm.create({ ...spec, images }, { serialOutput: openOutputWriter(1), report: () => {} })).rejects.toThrow('Cannot read the image /nonexistent: ENOENT.');
    expect(idleVcpuThreadCount()).toBe(idleThreads); // its thread went back to the pool
    expect(openFds()).toBe(fds);
  });
});
