/**
 * The vCPU worker threads, kept in a pool for the life of the process.
 *
 * A worker takes about 50 ms to boot Node and load its modules, so `tsvisor run` starts one
 * before it has even read the config (prestartVcpuThread), and Vm.create takes it over
 * (spawnVcpuThreads). A VM that ends hands its threads back (retireVcpuThreads): they wait,
 * idle and unreferenced (they keep no process alive), for the next VM of the process.
 *
 * Reuse is also what bounds a process that creates VM after VM: every worker loads koffi, and
 * koffi never frees what it allocates for each thread's environment (its instance data, with a
 * 2 MiB call stack and a 1 MiB heap mapped per thread: 3 mappings that outlive the thread). A
 * fresh thread per VM grew such a process by about 1 MiB and 3 mappings per VM.
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

/** What a worker gets in place of a setup when it is no longer needed: it then ends by itself. */
export const DISMISS = 'dismiss';
/** Idle threads kept beyond this are dismissed: a process rarely runs VMs with more vCPUs at once. */
const IDLE_LIMIT = 64;

const idle = new Set<Worker>();
/** Threads that have loaded their modules: an idle one of these may be left to the process's end. */
const loaded = new WeakSet<Worker>();
/** Each thread's own listener for its 'loaded' message, which every owner keeps. */
const loadedListeners = new WeakMap<Worker, (message: { readonly type: string }) => void>();

function startWorker(): Worker {
  const worker = new Worker(WORKER_URL);
  const onLoaded = (message: { readonly type: string }) => {
    if (message.type !== 'loaded') return;
    loaded.add(worker);
    if (idle.has(worker)) worker.unref();
  };
  worker.on('message', onLoaded);
  loadedListeners.set(worker, onLoaded);
  return worker;
}

/**
 * Drops the listeners the last owner added, keeping the thread's own. Never
 * worker.removeAllListeners(): that also removes Node's 'newListener' hook, which starts the
 * worker's message port when a 'message' listener is added, so the next owner would never hear
 * from the thread.
 */
function forgetListeners(worker: Worker): void {
  for (const event of ['messageerror', 'error', 'exit', 'online']) worker.removeAllListeners(event);
  const own = loadedListeners.get(worker);
  for (const listener of worker.listeners('message')) if (listener !== own) worker.off('message', listener as (...args: unknown[]) => void);
}

function keepIdle(worker: Worker): void {
  idle.add(worker);
  // A thread still loading its modules keeps the process alive until it has (see startWorker):
  // ending the process would terminate it, and terminating a thread while it loads a native
  // addon aborts the process.
  if (loaded.has(worker)) worker.unref();
  // An idle thread that dies is dropped; the fresh worker started in its place reports any failure.
  const drop = () => idle.delete(worker);
  worker.once('error', drop);
  worker.once('exit', drop);
}

export function prestartVcpuThread(): void {
  keepIdle(startWorker());
}

/** `count` vCPU worker threads, idle ones first, the last retired first (the warmest); each waits for its setup message. */
export function spawnVcpuThreads(count: number): Worker[] {
  const workers = [...idle].reverse().slice(0, count);
  for (const worker of workers) {
    idle.delete(worker);
    forgetListeners(worker);
    worker.ref();
  }
  while (workers.length < count) workers.push(startWorker());
  return workers;
}

/** Takes back threads that wait for a setup: their vCPU loop ended (each sent 'stopped'), or they never got one. */
export function retireVcpuThreads(workers: readonly Worker[]): void {
  // The last retired is the first taken: vCPU 0's thread, retired last, runs the next VM's vCPU 0.
  for (const worker of [...workers].reverse()) {
    if (worker.threadId === -1) continue; // it ended
    forgetListeners(worker);
    if (idle.size < IDLE_LIMIT) keepIdle(worker);
    else void dismissVcpuThreads([worker]);
  }
}

/** Dismisses workers that wait for a setup (fresh or retired), and resolves once they have ended. */
export function dismissVcpuThreads(workers: readonly Worker[]): Promise<void> {
  const ended = workers.map(
    (worker) =>
      new Promise<void>((resolve) => {
        idle.delete(worker);
        if (worker.threadId === -1) return resolve(); // already gone
        worker.ref(); // the process waits for it to end
        worker.once('exit', () => resolve());
        worker.postMessage(DISMISS);
      }),
  );
  return Promise.all(ended).then(() => undefined);
}

/** Dismisses the idle threads (a run that failed before its VM was built, or a process done with VMs). */
export function dismissIdleVcpuThreads(): Promise<void> {
  return dismissVcpuThreads([...idle]);
}

/** How many threads wait idle (for tests). */
export function idleVcpuThreadCount(): number {
  return idle.size;
}
