/**
 * Starting the vCPU worker threads. A worker takes about 50 ms to boot Node and load its
 * modules, so `tsvisor run` starts one before it has even read the config
 * (prestartVcpuThread), and Vm.create takes it over (spawnVcpuThreads). A prestarted thread
 * that died is replaced.
 *
 * A worker that is not needed after all is dismissed, never terminated: terminating a worker
 * while it loads a native addon (koffi) aborts the whole process.
 * This module imports nothing else of tsvisor's, so that the command line can load it first.
 */
import { Worker } from 'node:worker_threads';

// Under vitest the sources are TypeScript; the worker then runs the compiled copy in dist/.
const WORKER_URL = import.meta.url.endsWith('.ts')
  ? new URL('../../dist/vmm/vcpu-worker.js', import.meta.url)
  : new URL('./vcpu-worker.js', import.meta.url);

/** What a worker gets in place of its setup when it is not needed: it then ends by itself. */
export const DISMISS = 'dismiss';

const prestarted = new Set<Worker>();

export function prestartVcpuThread(): void {
  const worker = new Worker(WORKER_URL);
  prestarted.add(worker);
  // A failed prestart is dropped quietly: the fresh worker started in its place reports the failure.
  const drop = () => prestarted.delete(worker);
  worker.once('error', drop);
  worker.once('exit', drop);
}

/** `count` vCPU worker threads, prestarted ones first; each waits for its setup message. */
export function spawnVcpuThreads(count: number): Worker[] {
  const workers = [...prestarted].slice(0, count);
  for (const worker of workers) {
    prestarted.delete(worker);
    worker.removeAllListeners();
  }
  while (workers.length < count) workers.push(new Worker(WORKER_URL));
  return workers;
}

/** Dismisses workers that have not been sent their setup, and resolves once they have ended. */
export function dismissVcpuThreads(workers: readonly Worker[]): Promise<void> {
  const ended = workers.map(
    (worker) =>
      new Promise<void>((resolve) => {
        if (worker.threadId === -1) return resolve(); // already gone
        worker.once('exit', () => resolve());
        worker.postMessage(DISMISS);
      }),
  );
  return Promise.all(ended).then(() => undefined);
}

/** Dismisses the prestarted threads nobody took (a run that failed before its VM was built). */
export function dismissPrestartedVcpuThreads(): Promise<void> {
  const unused = [...prestarted];
  prestarted.clear();
  return dismissVcpuThreads(unused);
}
