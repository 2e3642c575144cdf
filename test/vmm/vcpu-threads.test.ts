/** Starting vCPU threads ahead of the VM, and ending the ones not needed without terminating them. */
import { describe, expect, it } from 'vitest';
import { dismissPrestartedVcpuThreads, dismissVcpuThreads, prestartVcpuThread, spawnVcpuThreads } from '../../src/vmm/vcpu-threads.js';

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
    await dismissPrestartedVcpuThreads();
    const fresh = spawnVcpuThreads(1);
    expect(fresh[0]?.threadId).toBe(referenceId + 3);
    await dismissVcpuThreads(fresh);
  });
});
