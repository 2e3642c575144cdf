/**
 * A VM's thread (a worker_thread), in one of two roles.
 *
 * A vCPU thread attaches to the VM the main thread built (guest memory, its vCPU and kvm_run
 * page, the shared device state), builds its own buses and device views, pins itself to its
 * host CPUs, and runs the exit loop (vcpu/vcpu-loop.ts) until the VM ends. Every exit is
 * handled here, with no round trip to the main thread; messages carry only what the user
 * must hear about (the VM's end, reports, traces) and the handshakes of start and stop.
 * COM1's output is not written here: the UART puts it in a shared ring that the main thread
 * drains (serial-output.ts), so a vCPU never waits on the terminal.
 *
 * The platform timer thread, when the VM has an HPET, fires its timers (platform-timers.ts).
 *
 * After 'stopped' the thread waits for its next VM (vcpu-threads.ts keeps it in a pool), with
 * nothing of the last one kept, until it is dismissed. A thread whose run failed ('fatal')
 * ends instead: its state is not known to be clean.
 */
import { parentPort } from 'node:worker_threads';
import type { UnassignedAccess } from '../devices/bus.js';
import * as libc from '../host/libc.js';
import { nativeShim } from '../host/shim.js';
import * as kvm from '../kvm/index.js';
import { GuestMemory, type HostRegion } from '../memory/guest-memory.js';
import { Kicker } from './kick.js';
import { buildPlatform, buildPlatformTimers, type PlatformSpec, type PlatformState } from './platform.js';
import { runPlatformTimers } from './platform-timers.js';
import { setExactTimerSlack, setThreadAffinity, threadAffinity } from './affinity.js';
import { wireInterrupts } from './interrupts.js';
import { ExitHandler } from './vcpu/exit-handler.js';
import { VcpuLoop, type GuestAction, type GuestRequest, type RunControl } from './vcpu/vcpu-loop.js';
import { DISMISS } from './vcpu-threads.js';
import { VcpuState, VmState, VmControl } from './vm-control.js';
import type { VmExit } from './vm-exit.js';
import { StatsBuffer, type StatsLayout } from './vm-stats.js';

/** What the main thread sends a vCPU worker once the VM is built. */
export interface VcpuWorkerSetup {
  readonly role: 'vcpu';
  readonly id: number;
  readonly vcpuFd: number;
  /** Every vCPU's kvm_run mapping, by id (to kick the others). */
  readonly runs: readonly { readonly address: bigint; readonly size: number }[];
  readonly memory: readonly HostRegion[];
  readonly platform: PlatformSpec;
  readonly platformState: PlatformState;
  readonly control: SharedArrayBuffer;
  readonly stats: { readonly buffer: SharedArrayBuffer; readonly layout: StatsLayout; readonly timed: boolean };
  readonly traceUnassigned: boolean;
  /** The host CPUs this vCPU may run on, when pinned. */
  readonly affinity: readonly number[] | undefined;
  /** Which of KVM's x86 sides runs the guest (they differ in what a shutdown exit leaves). */
  readonly kvmSide: kvm.KvmSide;
  /** The host CPU opens interrupt windows inside STI's shadow (kvm.dropsStiShadowOnEntry). */
  readonly dropsStiShadow: boolean;
  /** What the guest's reset (a triple fault), power-off and crash do (VmOptions.onGuestReset, ...). */
  readonly onGuestReset: GuestAction;
  readonly onGuestPowerOff: GuestAction;
  readonly onGuestCrash: GuestAction;
}

/** What the main thread sends the thread that runs the platform timers (platform-timers.ts). */
export interface PlatformTimerSetup {
  readonly role: 'platform-timers';
  readonly runs: VcpuWorkerSetup['runs'];
  readonly platform: PlatformSpec;
  readonly platformState: PlatformState;
  readonly control: SharedArrayBuffer;
}

export type WorkerSetup = VcpuWorkerSetup | PlatformTimerSetup;

/** Messages a vCPU worker sends the main thread. */
export type VcpuWorkerMessage =
  /** Its modules are loaded (it may be terminated from now on): once, when the thread starts. */
  | { readonly type: 'loaded' }
  | { readonly type: 'ready'; readonly tid: number; readonly affinity: readonly number[] }
  | { readonly type: 'exit'; readonly exit: VmExit }
  /** Its guest reset the machine (a triple fault), or powered off, and the VM takes that without ending: the vCPU waits for Vm.reset. */
  | { readonly type: 'guest-request'; readonly request: GuestRequest }
  | { readonly type: 'report'; readonly message: string }
  | { readonly type: 'unassigned'; readonly access: UnassignedAccess }
  /** It has left its loop; `stopPoint` says where its vCPU was, when the VM was stopped from outside. */
  | { readonly type: 'stopped'; readonly stopPoint?: string }
  | { readonly type: 'fatal'; readonly message: string };

const port = parentPort;
if (!port) throw new Error('vcpu-worker.js runs as a worker thread');
const send = (message: VcpuWorkerMessage) => port.postMessage(message);

/** The host CPUs this thread may run on when not pinned: what it started with. */
const unpinned = threadAffinity();

const onMessage = (setup: WorkerSetup | typeof DISMISS) => {
  if (setup === DISMISS) {
    port.off('message', onMessage); // with no listener left, the thread ends
    return;
  }
  try {
    if (setup.role === 'vcpu') runVcpu(setup);
    else runTimers(setup);
  } catch (error) {
    port.off('message', onMessage);
    send({ type: 'fatal', message: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  }
};
port.on('message', onMessage);
send({ type: 'loaded' });

/** The kvm_run pages of every vCPU, as this thread sees them, for kicking them. */
function kvmRuns(runs: VcpuWorkerSetup['runs'], own?: { readonly id: number; readonly kvmRun: kvm.KvmRun }): kvm.KvmRun[] {
  return runs.map((run, id) => (id === own?.id ? own.kvmRun : new kvm.KvmRun(libc.view(run.address, run.size))));
}

function runVcpu(setup: VcpuWorkerSetup): void {
  const control = new VmControl(setup.runs.length, setup.control);
  const tid = nativeShim().currentThreadId();
  setThreadAffinity(setup.affinity ?? unpinned);
  setExactTimerSlack();
  const memory = GuestMemory.attach(setup.memory);
  const own = setup.runs[setup.id] as VcpuWorkerSetup['runs'][number];
  const vcpu = kvm.Vcpu.attach(setup.id, setup.vcpuFd, own.address, own.size);
  const kicker = new Kicker(control, kvmRuns(setup.runs, vcpu));
  const stats = new StatsBuffer(setup.stats.layout, setup.stats.timed, setup.stats.buffer);

  const local: RunControl = { exit: undefined };
  const interrupts = wireInterrupts(setup.runs.length, setup.platform.devices, setup.platformState.interrupts, {
    currentVcpu: setup.id,
    kick: (id) => kicker.kick(id),
    control,
  });
  const platform = buildPlatform(
    setup.platform,
    memory,
    setup.platformState,
    {
      onDebugExit: (value) => (local.exit ??= { kind: 'debug-exit', value }),
      onPowerOff: () => (local.exit ??= { kind: 'power-off' }),
      report: (message) => send({ type: 'report', message }),
      onUnassigned: setup.traceUnassigned
        ? (access) => send({ type: 'unassigned', access: { ...access, data: access.data.slice() } })
        : undefined,
    },
    { io: stats.busCounters(setup.id, 'io'), mmio: stats.busCounters(setup.id, 'mmio') },
    { id: setup.id, taskPriority: vcpu.kvmRun, interrupts, onPlatformTimerChange: () => control.wakePlatformTimers() },
  );
  const { counts, nanos } = stats.exitCounters(setup.id);
  const exits = new ExitHandler({
    vcpu, ioBus: platform.ioBus, mmioBus: platform.mmioBus, memory, localApic: platform.localApic,
    tscKhz: vcpu.getTscKhz(),
    shutdownResetsVcpu: kvm.shutdownResetsVcpu(setup.kvmSide),
    exitCounts: counts,
    stiShadowHalts: setup.dropsStiShadow ? stats.stiShadowHalts(setup.id) : undefined,
  });
  const loop = new VcpuLoop({
    vcpu, control, exits, local, localApic: platform.localApic,
    immediateExitAddress: own.address + BigInt(kvm.KVM_RUN_IMMEDIATE_EXIT_OFFSET),
    shim: nativeShim(),
    exitCounts: counts, exitNanos: nanos, timed: setup.stats.timed,
    onGuestReset: setup.onGuestReset,
    onGuestPowerOff: setup.onGuestPowerOff,
    onGuestCrash: setup.onGuestCrash,
    tellMain: (request) => send({ type: 'guest-request', request }),
  });

  control.setTid(setup.id, tid);
  send({ type: 'ready', tid, affinity: threadAffinity() });
  let exit: VmExit | undefined;
  try {
    exit = loop.run();
  } finally {
    control.setTid(setup.id, 0); // no more kicks for a thread that is leaving
  }
  const stopPoint = exit ? undefined : exits.stopPoint(STOP_STATE_NAMES[control.vcpuState(setup.id)] ?? 'in an unknown state');
  // The first vCPU to end the VM stops the others at once, then tells the main thread.
  if (exit && control.claimExit()) {
    control.setVmState(VmState.stopping);
    kicker.kickAll(setup.id);
    send({ type: 'exit', exit });
  }
  control.setVcpuState(setup.id, VcpuState.stopped);
  memory.release();
  send({ type: 'stopped', ...(stopPoint ? { stopPoint } : {}) });
}

/** What a vCPU was doing, by its state when it left its loop. */
const STOP_STATE_NAMES: Readonly<Record<number, string>> = {
  [VcpuState.parked]: 'waiting for a start-up IPI',
  [VcpuState.running]: 'running',
  [VcpuState.halted]: 'halted',
  [VcpuState.haltedUninterruptible]: 'halted with interrupts disabled',
  [VcpuState.paused]: 'paused',
};

function runTimers(setup: PlatformTimerSetup): void {
  const control = new VmControl(setup.runs.length, setup.control);
  setThreadAffinity(unpinned);
  setExactTimerSlack();
  const kicker = new Kicker(control, kvmRuns(setup.runs));
  const interrupts = wireInterrupts(setup.runs.length, setup.platform.devices, setup.platformState.interrupts, {
    currentVcpu: -1,
    kick: (id) => kicker.kick(id),
    control,
  });
  const timers = buildPlatformTimers(setup.platform, setup.platformState, interrupts, () => control.wakePlatformTimers());
  send({ type: 'ready', tid: nativeShim().currentThreadId(), affinity: threadAffinity() });
  runPlatformTimers(control, timers);
  send({ type: 'stopped' });
}

