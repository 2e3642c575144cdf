/** Starting vCPU threads ahead of the VM, reusing them from VM to VM, and ending the ones not needed without terminating them. */
import { describe, expect, it } from 'vitest';
import { dismissIdleVcpuThreads, dismissVcpuThreads, idleVcpuThreadCount, prestartVcpuThread, retireVcpuThreads, spawnVcpuThreads } from '../../src/vmm/vcpu-threads.js';

describe('vCPU threads', () => {
  it('dismisses a prestarted thread in the middle of loading its modules, and it ends by itself', async () => {
    for (let round = 0; round < 5; round++) {
      prestartVcpuThread();
      const [worker] = spawnVcpuThreads(1);
      const exitCode = new Promise<number>((resolve) => worker?.once('exit', resolve));
      await dismissVcpuThreads(worker ? [worker] : []);
      expect(await exitCode).toBe(0); // ended on its own: a terminated worker exits with 1
    }
  });

  it('hands out prestarted threads first, then starts new ones', async () => {
    prestartVcpuThread();
    const workers = spawnVcpuThreads(2);
    expect(workers).toHaveLength(2);
    expect(workers[0]?.threadId).toBeLessThan(workers[1]?.threadId as number);
    await dismissVcpuThreads(workers);
    expect(workers.map((worker) => worker.threadId)).toEqual([-1, -1]);
  });

  it('dismisses the prestarted threads nobody took', async () => {
    const reference = spawnVcpuThreads(1);
    const referenceId = reference[0]?.threadId as number;
    await dismissVcpuThreads(reference);
    prestartVcpuThread(); // threads referenceId + 1 and referenceId + 2
    prestartVcpuThread();
    await dismissIdleVcpuThreads();
    const fresh = spawnVcpuThreads(1);
    expect(fresh[0]?.threadId).toBe(referenceId + 3);
    await dismissVcpuThreads(fresh);
  });

  it('takes back retired threads and hands them out again, idle threads first, each in the place it had', async () => {
    const [first, second] = spawnVcpuThreads(2);
    retireVcpuThreads([first!, second!]);
    expect(idleVcpuThreadCount()).toBe(2);
    const again = spawnVcpuThreads(3);
    // The same threads, not new ones, in the same places: vCPU 0's thread runs the next VM's vCPU 0.
    expect(again[0]).toBe(first);
    expect(again[1]).toBe(second);
    expect(idleVcpuThreadCount()).toBe(0);
    await dismissVcpuThreads(again);
    expect(again.map((worker) => worker.threadId)).toEqual([-1, -1, -1]);
  });
});
