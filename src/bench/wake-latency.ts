/**
 * How fast another thread reaches a vCPU: a kick (from Kicker.kick() on the main thread to
 * the vCPU's worker handling the KVM_EXIT_INTR), and a wake (from an interrupt the main thread
 * raises on the vCPU's Local APIC, Vm.interrupt, to the worker running again after HLT). Both ends stamp process.hrtime.bigint(), one clock for
 * every thread. The main thread spins while it waits, so that its own wake-up time is not
 * counted. Before each wake it lets the halted worker settle for a while, so that the figure
 * is a real wake of a sleeping thread and not a notify that lands before Atomics.wait.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { loadVmConfig } from '../config/load-config.js';
import { VcpuState } from '../vmm/vm-control.js';
import { Vm } from '../vmm/vm.js';
import { openOutputWriter } from '../host/output-writer.js';

const SPIN_CONFIG = fileURLToPath(new URL('../../bench/counter.toml', import.meta.url));
const HALT_CONFIG = fileURLToPath(new URL('../../bench/halt-loop.toml', import.meta.url));
const WAIT_LIMIT_NS = 1_000_000_000n;
/** The vector guests/halt-loop takes to end its halt. */
const HALT_LOOP_VECTOR = 0x40;
const SETTLE_MS = 2;
const settleWord = new Int32Array(new SharedArrayBuffer(4));

/** Spins until `done()`, or throws after a second. */
function spinUntil(done: () => boolean, what: string): void {
  const start = process.hrtime.bigint();
  while (!done()) if (process.hrtime.bigint() - start > WAIT_LIMIT_NS) throw new Error(`timed out waiting for ${what}`);
}

/** Kick latencies in nanoseconds, with vCPU 0 spinning inside the guest. */
export async function kickLatencies(samples: number): Promise<number[]> {
  const vm = await Vm.create(loadVmConfig(SPIN_CONFIG), { serialOutput: openOutputWriter(1), report: () => {} });
  try {
    void vm.run();
    spinUntil(() => vm.memory.read32(0x7000) > 0, 'the guest to run');
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      const start = process.hrtime.bigint();
      vm.kick(0);
      spinUntil(() => vm.timestamp(0, 'kick-handled') > start, 'the kick');
      latencies.push(Number(vm.timestamp(0, 'kick-handled') - start));
    }
    return latencies;
  } finally {
    await vm.destroy();
  }
}

/** Halt-wake latencies in nanoseconds: the guest halts again after each wake. */
export async function haltWakeLatencies(samples: number): Promise<number[]> {
  const vm = await Vm.create(loadVmConfig(HALT_CONFIG), { serialOutput: openOutputWriter(1), report: () => {} });
  try {
    void vm.run();
    const latencies: number[] = [];
    for (let i = 0; i < samples; i++) {
      spinUntil(() => vm.vcpuState(0) === VcpuState.halted, 'the guest to halt');
      Atomics.wait(settleWord, 0, 0, SETTLE_MS);
      const start = process.hrtime.bigint();
      vm.interrupt(0, HALT_LOOP_VECTOR);
      spinUntil(() => vm.timestamp(0, 'woken') > start, 'the wake');
      latencies.push(Number(vm.timestamp(0, 'woken') - start));
    }
    return latencies;
  } finally {
    await vm.destroy();
  }
}

/**
 * The reference for halt-wake: the same notify-to-running latency for a bare worker thread
 * sleeping in Atomics.wait, with no VM, settled the same way.
 */
export async function bareWorkerWakeLatencies(samples: number): Promise<number[]> {
  // Words: 0 the wake word, 1 wakes seen, 2 quit; then the worker's stamp at byte 16.
  const shared = new SharedArrayBuffer(24);
  const words = new Int32Array(shared, 0, 3);
  const stamp = new BigInt64Array(shared, 16, 1);
  const worker = new Worker(
    `const { workerData } = require('node:worker_threads');
     const words = new Int32Array(workerData, 0, 3), stamp = new BigInt64Array(workerData, 16, 1);
     while (!Atomics.load(words, 2)) {
       Atomics.wait(words, 0, 0);
       stamp[0] = process.hrtime.bigint();
       Atomics.store(words, 0, 0);
       Atomics.add(words, 1, 1);
     }`,
    { eval: true, workerData: shared },
  );
  await new Promise((resolve) => worker.once('online', resolve));
  const latencies: number[] = [];
  for (let i = 0; i < samples; i++) {
    Atomics.wait(settleWord, 0, 0, SETTLE_MS);
    const start = process.hrtime.bigint();
    Atomics.store(words, 0, 1);
    Atomics.notify(words, 0);
    spinUntil(() => Atomics.load(words, 1) === i + 1, 'the wake');
    latencies.push(Number((stamp[0] as bigint) - start));
  }
  Atomics.store(words, 2, 1);
  Atomics.store(words, 0, 1);
  Atomics.notify(words, 0);
  await new Promise((resolve) => worker.once('exit', resolve));
  return latencies;
}
