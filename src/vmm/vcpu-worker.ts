/**
 * A vCPU thread (a worker_thread): it attaches to the VM the main thread built (guest memory,
 * its vCPU and kvm_run page, the shared device state), builds its own buses and device views,
 * pins itself to its host CPUs, and runs the exit loop until the VM ends. Every exit is
 * handled here, with no round trip to the main thread; messages carry only what the user
 * must hear about (the VM's end, reports, traces) and the handshakes of start and stop.
 *
 * After 'stopped' the thread waits for its next VM (vcpu-threads.ts keeps it in a pool), with
 * nothing of the last one kept, until it is dismissed. A thread whose run failed ('fatal')
 * ends instead: its state is not known to be clean.
 */
import { writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { UnassignedAccess } from '../devices/bus.js';
import * as libc from '../host/libc.js';
import { nativeShim } from '../host/shim.js';
import * as kvm from '../kvm/index.js';
import { GuestMemory, type HostRegion } from '../memory/guest-memory.js';
import { Kicker } from './kick.js';
import { buildPlatform, type PlatformSpec, type PlatformState } from './platform.js';
import { setExactTimerSlack, setThreadAffinity, threadAffinity } from './affinity.js';
import { wireInterrupts } from './interrupts.js';
import { VcpuRunner, type RunControl } from './vcpu-runner.js';
import { DISMISS } from './vcpu-threads.js';
import { VcpuState, VmState, VmControl } from './vm-control.js';
import type { VmExit } from './vm-exit.js';
import { StatsBuffer, type StatsLayout } from './vm-stats.js';

/** What the main thread sends a vCPU worker once the VM is built. */
export interface VcpuWorkerSetup {
  readonly id: number;
  readonly vcpuFd: number;
  /** Every vCPU's kvm_run mapping, by id (to kick the others). */
  readonly runs: readonly { readonly address: bigint; readonly size: number }[];
  readonly memory: readonly HostRegion[];
  readonly platform: PlatformSpec;
  readonly platformState: PlatformState;
  readonly control: SharedArrayBuffer;
  readonly stats: { readonly buffer: SharedArrayBuffer; readonly layout: StatsLayout; readonly timed: boolean };
  /** Where COM1's output goes (the terminal, or a file the main thread opened). */
  readonly outputFd: number;
  readonly traceUnassigned: boolean;
  /** The host CPUs this vCPU may run on, when pinned. */
  readonly affinity: readonly number[] | undefined;
  /** Which of KVM's x86 sides runs the guest (they differ in what a shutdown exit leaves). */
  readonly kvmSide: kvm.KvmSide;
}

/** Messages a vCPU worker sends the main thread. */
export type VcpuWorkerMessage =
  /** Its modules are loaded (it may be terminated from now on): once, when the thread starts. */
  | { readonly type: 'loaded' }
  | { readonly type: 'ready'; readonly tid: number; readonly affinity: readonly number[] }
  | { readonly type: 'exit'; readonly exit: VmExit }
  | { readonly type: 'report'; readonly message: string }
  | { readonly type: 'unassigned'; readonly access: UnassignedAccess }
  | { readonly type: 'stopped' }
  | { readonly type: 'fatal'; readonly message: string };

const port = parentPort;
if (!port) throw new Error('vcpu-worker.js runs as a worker thread');
const send = (message: VcpuWorkerMessage) => port.postMessage(message);

/** The host CPUs this thread may run on when not pinned: what it started with. */
const unpinned = threadAffinity();

const onMessage = (setup: VcpuWorkerSetup | typeof DISMISS) => {
  if (setup === DISMISS) {
    port.off('message', onMessage); // with no listener left, the thread ends
    return;
  }
  try {
    runVcpu(setup);
  } catch (error) {
    port.off('message', onMessage);
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
};
port.on('message', onMessage);
send({ type: 'loaded' });

function runVcpu(setup: VcpuWorkerSetup): void {
  const control = new VmControl(setup.runs.length, setup.control);
  const tid = nativeShim().currentThreadId();
  setThreadAffinity(setup.affinity ?? unpinned);
  setExactTimerSlack();
  const memory = GuestMemory.attach(setup.memory);
  const own = setup.runs[setup.id] as VcpuWorkerSetup['runs'][number];
  const vcpu = kvm.Vcpu.attach(setup.id, setup.vcpuFd, own.address, own.size);
  const runs = setup.runs.map((run, id) => (id === setup.id ? vcpu.kvmRun : new kvm.KvmRun(libc.view(run.address, run.size))));
  const kicker = new Kicker(control, runs);
  const stats = new StatsBuffer(setup.stats.layout, setup.stats.timed, setup.stats.buffer);

  const local: RunControl = { exit: undefined };
  const interrupts = wireInterrupts(setup.runs.length, setup.platform.devices, setup.platformState.interrupts, {
    currentVcpu: setup.id,
    kick: (id) => kicker.kick(id),
    startup: (id, vector) => control.startup(id, vector),
  });
  const platform = buildPlatform(
    setup.platform,
    memory,
    setup.platformState,
    {
      serialOutput: { write: (bytes) => writeAll(setup.outputFd, bytes) },
      onDebugExit: (value) => (local.exit ??= { kind: 'debug-exit', value }),
      onPowerOff: () => (local.exit ??= { kind: 'power-off' }),
      report: (message) => send({ type: 'report', message }),
      onUnassigned: setup.traceUnassigned
        ? (access) => send({ type: 'unassigned', access: { ...access, data: access.data.slice() } })
        : undefined,
    },
    { io: stats.busCounters(setup.id, 'io'), mmio: stats.busCounters(setup.id, 'mmio') },
    {
      id: setup.id,
      taskPriority: vcpu.kvmRun,
      interrupts,
      // vCPU 0 services the HPET's comparators: a change made on another vCPU makes it re-arm its timer.
      onHpetDeadlineChange: () => {
        if (setup.id !== 0) kicker.kick(0);
      },
    },
  );
  const { counts, nanos } = stats.exitCounters(setup.id);
  const runner = new VcpuRunner({
    vcpu, control, ioBus: platform.ioBus, mmioBus: platform.mmioBus, memory, local,
    localApic: platform.localApic,
    hpet: setup.id === 0 ? platform.hpet : undefined,
    tscKhz: vcpu.getTscKhz(),
    shutdownResetsVcpu: kvm.shutdownResetsVcpu(setup.kvmSide),
    exitCounts: counts, exitNanos: nanos, timed: setup.stats.timed,
  });

  control.setTid(setup.id, tid);
  send({ type: 'ready', tid, affinity: threadAffinity() });
  let exit: ReturnType<VcpuRunner['run']>;
  try {
    exit = runner.run();
  } finally {
    control.setTid(setup.id, 0); // no more kicks for a thread that is leaving
  }
  // The first vCPU to end the VM stops the others at once, then tells the main thread.
  if (exit && control.claimExit()) {
    control.setVmState(VmState.stopping);
    kicker.kickAll(setup.id);
    send({ type: 'exit', exit });
  }
  control.setVcpuState(setup.id, VcpuState.stopped);
  memory.release();
  send({ type: 'stopped' });
}

/** Writes all of `bytes` to `fd`, waiting out a full non-blocking pipe. */
function writeAll(fd: number, bytes: Uint8Array): void {
  let written = 0;
  while (written < bytes.length) {
    try {
      written += writeSync(fd, bytes, written, bytes.length - written);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
    }
  }
}
