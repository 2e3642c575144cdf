/**
 * Vm: a virtual machine built from a VmSpec, its vCPUs on worker threads.
 *
 * The main thread opens KVM, maps guest RAM, loads the images and boot data, creates every
 * vCPU and the shared device state, then starts one worker per vCPU (vcpu-worker.ts), which
 * runs the exit loop. The main thread keeps the terminal and the lifecycle: run, pause,
 * resume, stop, and the start requests that wake application processors. vCPU 0 runs when
 * the VM runs; the others stay parked until started, as with INIT/SIPI. The main thread also
 * drains COM1's output (serial-output.ts): a run the guest ends is over once its output is out.
 */
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { vcpuCpuid } from '../boot/cpuid.js';
import { loadImages } from '../boot/load-images.js';
import { multibootInputsOf } from '../boot/multiboot-info.js';
import { powerOnVcpus } from '../boot/power-on.js';
import { writeBootData } from '../boot/prepare-boot.js';
import { KVM_TSS_OFFSET } from '../boot/real-mode.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { UnassignedAccess } from '../devices/bus.js';
import type { CpuDumpState } from '../monitor/cpu-dump.js';
import { IA32_APIC_BASE, IA32_TSC_DEADLINE } from '../devices/local-apic.js';
import { DeliveryMode } from '../devices/apic-message.js';
import { HPET_STATE_WORDS } from '../devices/hpet.js';
import { PIT_STATE_WORDS } from '../devices/pit8254.js';
import { SharedState } from '../devices/shared-state.js';
import type { Uart16550 } from '../devices/uart16550.js';
import { OutputRing } from '../devices/output-ring.js';
import { ExitStatus, TsvisorError } from '../errors.js';
import type { OutputWriter } from '../host/output-writer.js';
import { nativeShim } from '../host/shim.js';
import * as kvm from '../kvm/index.js';
import { GuestMemory } from '../memory/guest-memory.js';
import { Kicker } from './kick.js';
import { wireInterrupts, type InterruptWiring } from './interrupts.js';
import { busSlotNames, com1Uart, createPlatformState, hasPlatformTimers, resetPlatform, type PlatformState } from './platform.js';
import { SerialOutput } from './serial-output.js';
import { retireVcpuThreads, spawnVcpuThreads } from './vcpu-threads.js';
import type { VcpuWorkerMessage, WorkerSetup } from './vcpu-worker.js';
import type { GuestAction, GuestRequest } from './vcpu/vcpu-loop.js';
import { VcpuState, VmControl, VmState, type VcpuStateValue, type VmStateValue } from './vm-control.js';
import type { VmExit } from './vm-exit.js';
import { readInterruptStats, StatsBuffer, type VmStats } from './vm-stats.js';

export interface VmOptions {
  /** Where COM1's output goes (a character device's writer, src/chardev/): the VM closes the writer when it is destroyed; what it writes to stays the caller's. */
  readonly serialOutput: OutputWriter;
  /** Tells the user what the guest did that they should know (a write to read-only memory, ...). */
  readonly report: (message: string) => void;
  /** Called for each access to an address no device owns (for tracing). */
  readonly onUnassigned?: (access: UnassignedAccess) => void;
  /** Measure the time spent handling exits and device accesses (tsvisor run --stats). */
  readonly timeStats?: boolean;
  /**
   * What the guest resetting the machine (a triple fault, which a PC turns into a reset) does:
   * 'exit' (the default) ends the VM with a guest failure; 'reset' resets it (Vm.reset) and
   * the guest boots again, as QEMU without -no-reboot.
   */
  readonly onGuestReset?: GuestAction;
  /**
   * What the guest powering off does: 'exit' (the default) ends the VM; 'pause' stops every
   * vCPU and keeps the VM until a reset, or until it is stopped (QEMU's -no-shutdown); 'reset'
   * boots it again (libvirt's on_poweroff restart).
   */
  readonly onGuestPowerOff?: GuestAction;
  /**
   * What a guest failure other than a triple fault does (an emulation failure, an exception
   * KVM cannot deliver, a halt nothing can wake): 'exit' (the default) ends the VM with it,
   * 'reset' boots it again, 'pause' keeps it stopped for inspection (libvirt's on_crash).
   */
  readonly onGuestCrash?: GuestAction;
}

/** A machine reset that could not be completed (an image that changed on disk, a vCPU ioctl refused). */
export class ResetError extends TsvisorError {
  override name = 'ResetError';
}

/** What the guest did that the VM took without ending, and what the VM did (VmOptions.onGuestReset, onGuestPowerOff, onGuestCrash). */
export type GuestEvent = GuestRequest;

/** How long a vCPU worker may take to leave its loop once kicked, before it is terminated. */
const WORKER_STOP_TIMEOUT_MS = 5000;

const READONLY_MEMORY = {
  cap: kvm.KVM_CAP_READONLY_MEM,
  name: 'KVM_CAP_READONLY_MEM',
  why: 'memory regions without the WRITE flag are read-only memory slots (KVM_MEM_READONLY)',
};

export class Vm {
  private ended: Promise<VmExit>;
  private endWith!: (exit: VmExit) => void;
  private failWith!: (error: Error) => void;
  private stopping: Promise<void> | undefined;
  private readonly workerExits: Promise<void>[];
  /** Each resolves (true) when its thread has left its vCPU loop and may serve another VM. */
  private readonly workerStops: Promise<boolean>[];
  private destroyed = false;
  /** The signal that stopped the VM, once stop() was called. */
  private stopSignal: 'SIGINT' | 'SIGTERM' | undefined;
  private report: (message: string) => void = () => {};
  /** Where each vCPU was when the VM was stopped from outside, as its thread reported on leaving its loop. */
  private readonly stopPoints: string[] = [];
  /** The host CPUs each vCPU thread may run on, as the thread read them back after pinning itself. */
  readonly threadAffinities: (readonly number[])[] = [];
  /** The state the host last asked for (created, running, paused): where a machine reset leaves the VM. */
  private wanted: VmStateValue = VmState.created;
  /** The machine reset under way, if any: resets run one at a time. */
  private resetting: Promise<boolean> | undefined;
  /** A guest's reset request not yet begun: several vCPUs faulting at once reset the machine once. */
  private guestResetQueued = false;
  private readonly guestEventListeners: ((event: GuestEvent) => void)[] = [];

  private constructor(
    readonly spec: VmSpec,
    private readonly kvmSystem: kvm.Kvm,
    private readonly kvmVm: kvm.Vm,
    /** Guest RAM, as the main thread sees it. */
    readonly memory: GuestMemory,
    private readonly vcpus: readonly kvm.Vcpu[],
    private readonly workers: readonly Worker[],
    private readonly control: VmControl,
    private readonly statsBuffer: StatsBuffer,
    /** COM1, for feeding it host input. */
    readonly console: Uart16550,
    private readonly kicker: Kicker,
    private readonly platformState: PlatformState,
    private readonly interrupts: InterruptWiring,
    private readonly serialOutput: SerialOutput,
  ) {
    this.ended = new Promise((resolve, reject) => {
      this.endWith = resolve;
      this.failWith = reject;
    });
    this.ended.catch(() => {}); // observed through run()
    // Watched from the start: a worker may end, or leave its loop, before anyone waits for it (after the VM's exit).
    this.workerExits = workers.map((worker) => new Promise<void>((resolve) => worker.once('exit', () => resolve())));
    this.workerStops = workers.map(
      (worker) => new Promise<boolean>((resolve) => worker.on('message', (message: VcpuWorkerMessage) => message.type === 'stopped' && resolve(true))),
    );
  }

  /** Builds the VM and starts its vCPU workers (vCPU 0 waits for run()). Everything made before a failure is released again. */
  static async create(spec: VmSpec, options: VmOptions): Promise<Vm> {
    // The workers load their modules while the main thread builds the VM: one per vCPU, and
    // one for the platform timers when there are any.
    const platformTimers = hasPlatformTimers(spec);
    const workers = spawnVcpuThreads(spec.cpuCount + (platformTimers ? 1 : 0));
    const cleanup: (() => void)[] = [];
    let vm: Vm | undefined;
    try {
      const kvmSystem = kvm.Kvm.open();
      cleanup.push(() => kvmSystem.close());
      kvmSystem.requireCapabilities();
      if (spec.memoryRegions.some((region) => region.readOnly)) kvmSystem.requireCapabilities([READONLY_MEMORY]);
      nativeShim().installKickHandler();

      // Guest RAM outlives the VM that maps it: it is released after the VM is closed.
      const memory = GuestMemory.allocate(
        spec.memoryRegions
          .filter((region) => region.mapType !== 'reserved')
          .map((region) => ({ gpa: region.gpa, size: region.size, readOnly: region.readOnly, backing: region.mapType === 'identical' ? 'pinned' : 'anonymous' })),
      );
      cleanup.push(() => memory.release());
      const kvmVm = kvmSystem.createVm();
      cleanup.push(() => kvmVm.close());
      kvmVm.setIdentityMapAddr(spec.kvmRealModeArea);
      kvmVm.setTssAddr(spec.kvmRealModeArea + KVM_TSS_OFFSET);
      // The Local APIC's MSRs exit to tsvisor: KVM would otherwise answer them for an APIC it does not have.
      kvmVm.enableCap({ cap: kvm.KVM_CAP_X86_USER_SPACE_MSR, args: [BigInt(kvm.KVM_MSR_EXIT_REASON_FILTER), 0n, 0n, 0n] });
      kvmVm.denyMsrs([IA32_APIC_BASE, IA32_TSC_DEADLINE]);
      memory.registerWith(kvmVm);
      loadGuest(memory, spec);

      const supported = kvmSystem.getSupportedCpuid();
      const kvmSide = kvm.kvmSide(supported, kvm.loadedKvmModules());
      const dropsStiShadow = kvm.dropsStiShadowOnEntry(kvmSide, cpus()[0]?.model ?? '');
      const vcpus: kvm.Vcpu[] = [];
      for (let id = 0; id < spec.cpuCount; id++) {
        const vcpu = kvmVm.createVcpu(id);
        cleanup.push(() => vcpu.close());
        vcpu.setCpuid2(vcpuCpuid(supported, { apicId: id, tscKhz: vcpu.getTscKhz(), features: spec.cpuFeatures }).entries);
        vcpus.push(vcpu);
      }
      powerOnVcpus(vcpus, spec.boot);

      const control = VmControl.create(spec.cpuCount);
      const slotNames = busSlotNames(spec);
      const statsBuffer = new StatsBuffer(
        { vcpuCount: spec.cpuCount, ioSlots: slotNames.io.length, mmioSlots: slotNames.mmio.length },
        options.timeStats ?? false,
      );
      const platformState = createPlatformState(spec.cpuCount);
      const kicker = new Kicker(control, vcpus.map((vcpu) => vcpu.kvmRun));
      const interrupts = wireInterrupts(spec.cpuCount, spec.devices, platformState.interrupts, {
        currentVcpu: -1,
        kick: (id) => kicker.kick(id),
        control,
      });
      interrupts.localApics.setPluggedCount(spec.currentCpus);
      const com1 = com1Uart(spec, platformState, interrupts);
      const serialOutput = new SerialOutput(new OutputRing(platformState.uartOutput), com1, options.serialOutput, options.report);
      cleanup.push(() => serialOutput.close());
      vm = new Vm(spec, kvmSystem, kvmVm, memory, vcpus, workers, control, statsBuffer, com1, kicker, platformState, interrupts, serialOutput);
      serialOutput.start();
      const platform = { cpuCount: spec.cpuCount, currentCpus: spec.currentCpus, devices: spec.devices, memoryRegions: spec.memoryRegions };
      const runs = vcpus.map((vcpu) => vcpu.runMapping);
      await vm.startWorkers(options, (id) =>
        id === spec.cpuCount
          ? { role: 'platform-timers', runs, platform, platformState, control: control.buffer }
          : {
              role: 'vcpu',
              id,
              vcpuFd: (vcpus[id] as kvm.Vcpu).fd,
              runs,
              memory: memory.hostMappings,
              platform,
              platformState,
              control: control.buffer,
              stats: { buffer: statsBuffer.buffer, layout: statsBuffer.layout, timed: statsBuffer.timed },
              traceUnassigned: options.onUnassigned !== undefined,
              affinity: spec.vcpuAffinity?.[id],
              kvmSide,
              dropsStiShadow,
              onGuestReset: options.onGuestReset ?? 'exit',
              onGuestPowerOff: options.onGuestPowerOff ?? 'exit',
              onGuestCrash: options.onGuestCrash ?? 'exit',
            },
      );
      return vm;
    } catch (error) {
      // The threads end before anything they may be using is released.
      await (vm ? vm.stopWorkers() : retireVcpuThreads(workers));
      for (const release of cleanup.reverse()) release();
      throw error;
    }
  }

  /**
   * Runs the guest (vCPU 0 starts) until it ends, or the VM is stopped. When the guest ends
   * the VM, the run ends once its output has all been written; a stop() while that waits on a
   * full output makes the run a stop.
   */
  async run(options: { readonly paused?: boolean } = {}): Promise<VmExit> {
    this.want(options.paused ? VmState.paused : VmState.running);
    const exit = await this.ended;
    if (!(await this.serialOutput.finish()) && exit.kind !== 'stopped') return { kind: 'stopped', signal: this.stopSignal };
    return exit;
  }

  /** Stops every vCPU at an exit boundary, with in-flight I/O completed; resolves once all are paused. */
  async pause(): Promise<void> {
    this.want(VmState.paused);
    this.kicker.kickAll();
    await this.resetting?.catch(() => {}); // a reset under way ends with every vCPU paused, failed or not
    for (let id = 0; id < this.vcpus.length; id++) {
      const state = this.control.vcpuState(id);
      if (state === VcpuState.running || state === VcpuState.halted || state === VcpuState.haltedUninterruptible) await this.control.waitForVcpuState(id, VcpuState.paused);
    }
  }

  resume(): void {
    this.want(VmState.running);
  }

  /**
   * A machine reset, as QEMU's system_reset: every vCPU paused at an exit boundary, the
   * devices reset (resetPlatform), the images and boot data loaded again into guest RAM (the
   * rest of RAM is left as it was), every vCPU back in its power-on state with vCPU 0 at the
   * boot entry, each vCPU's thread clearing what it holds (its Local APIC, pending injection,
   * timers, halt, wait for SIPI); then the VM runs again if it ran, or stays paused. The vCPU
   * threads are kept. Resets run one at a time; one that finds the VM ending (the guest powered
   * off, a stop) gives up: false. Safe at any point of the VM's life, even before run().
   */
  reset(): Promise<boolean> {
    const previous = this.resetting ?? Promise.resolve(true);
    const reset: Promise<boolean> = previous
      .catch(() => false)
      .then(() => this.resetOnce())
      .finally(() => {
        if (this.resetting === reset) this.resetting = undefined;
      });
    this.resetting = reset;
    return reset;
  }

  /** Calls `listener` for each reset or power-off of the guest's that the VM took without ending (VmOptions). */
  onGuestEvent(listener: (event: GuestEvent) => void): void {
    this.guestEventListeners.push(listener);
  }

  /**
   * Ends the VM from outside; run() resolves with { kind: 'stopped', signal }. Of the guest's
   * output not yet written, what the output takes at once goes out; the rest is dropped (the
   * output may be a pipe nobody reads).
   */
  async stop(signal?: 'SIGINT' | 'SIGTERM'): Promise<void> {
    this.stopSignal ??= signal;
    if (this.control.claimExit()) {
      await this.stopWorkers();
      this.endWith({ kind: 'stopped', signal, stopPoints: this.stopPoints.filter((line) => line !== undefined) });
    }
    this.serialOutput.close();
    await this.ended.catch(() => {});
  }

  /**
   * A start-up IPI to vCPU `id`, as another processor's ICR sends it: if it waits for one (an
   * application processor from power-on, or any vCPU after INIT), it starts in real mode at
   * vector << 12; otherwise it ignores it.
   */
  startVcpu(id: number, vector: number): void {
    this.control.holdAlive();
    this.interrupts.localApics.latchStartup(id, vector);
    this.control.revive(id);
    this.kicker.kick(id);
    this.control.releaseAlive();
  }

  /** How many vCPUs, from 0 up, the guest may start (the rest are off the APIC bus). */
  get currentVcpus(): number {
    return this.interrupts.localApics.pluggedCount();
  }

  /**
   * Plugs vCPUs into the APIC bus or out of it (libvirt's setvcpus --live): from `count` up
   * they take no message, so the guest cannot start them. One the guest has started stays:
   * lowering the count below it is refused, and so is lowering it while the VM is paused, when
   * a vCPU that waits for its start-up IPI cannot be told from one the guest runs.
   */
  setCurrentVcpus(count: number): void {
    const total = this.vcpus.length;
    if (!Number.isInteger(count) || count < 1 || count > total) throw new TsvisorError(`requested vcpus is greater than max allowable vcpus for the domain: ${count} > ${total}`);
    if (count < this.currentVcpus) {
      for (let id = count; id < total; id++) {
        const state = this.control.vcpuState(id);
        if (state === VcpuState.parked) continue;
        if (state === VcpuState.paused) throw new TsvisorError(`the VM is paused, and tsvisor cannot tell whether vCPU ${id} waits for its start-up or runs guest code: resume the domain first.`);
        throw new TsvisorError(`vCPU ${id} runs guest code (the guest started it): tsvisor does not take a vCPU away from a guest that runs it. Lower the count after a reset, or only down to ${id + 1}.`);
      }
    }
    this.interrupts.localApics.setPluggedCount(count);
  }

  /**
   * A fixed, edge-triggered interrupt with `vector` for vCPU `id`'s Local APIC, as a device's
   * message would bring it (an APIC that is software-disabled drops it): what ends a halt.
   */
  interrupt(id: number, vector: number): void {
    this.interrupts.apicBus.send({ vector, deliveryMode: DeliveryMode.fixed, logical: false, destination: this.interrupts.localApics.apicId(id), levelTriggered: false });
  }

  /** Kicks vCPU `id` out of KVM_RUN. */
  kick(id: number): void {
    this.kicker.kick(id);
  }

  vcpuState(id: number): VcpuStateValue {
    return this.control.vcpuState(id);
  }

  /** Waits until vCPU `id` is in `state`. */
  waitForVcpuState(id: number, state: VcpuStateValue): Promise<void> {
    return this.control.waitForVcpuState(id, state);
  }

  /** When vCPU `id` last handled a kick, or woke after HLT (process.hrtime.bigint() nanoseconds). */
  timestamp(id: number, which: 'kick-handled' | 'woken'): bigint {
    return this.control.timestamp(id, which);
  }

  /** The worker threads' kernel tids, by vCPU. */
  get threadIds(): number[] {
    return this.vcpus.map((_vcpu, id) => this.control.tid(id));
  }

  /**
   * vCPU `id`'s registers, for a monitor's `info registers`. Only while the vCPU is out of
   * KVM_RUN (the VM paused, not run yet, or ended): KVM would hold the read until it exits.
   */
  cpuDumpState(id: number, halted: boolean): CpuDumpState {
    const vcpu = this.vcpus[id] as kvm.Vcpu;
    return {
      regs: vcpu.getRegs(),
      sregs: vcpu.getSregs(),
      debugregs: vcpu.getDebugregs(),
      xsave: vcpu.getXsave(),
      interruptShadow: vcpu.getVcpuEvents().interrupt.shadow !== 0,
      halted,
    };
  }

  stats(): VmStats {
    const has = (kind: string) => this.spec.devices.some((device) => device.kind === kind);
    const hpet = has('hpet') ? new SharedState(HPET_STATE_WORDS, this.platformState.hpet) : undefined;
    const pit = has('pit') ? new SharedState(PIT_STATE_WORDS, this.platformState.pit) : undefined;
    return this.statsBuffer.read(busSlotNames(this.spec), readInterruptStats(this.interrupts.localApics, { hpet, pit }));
  }

  /** What the guest did in read-only and reserved memory, a line per region it touched. */
  guardedRegionSummary(): string[] {
    return this.stats().devices.flatMap(({ device, reads, writes }) => {
      if (device.endsWith('(read-only)')) return [`${device}: ${count(writes, 'guest write')} dropped`];
      if (device.endsWith('(reserved)')) return [`${device}: ${count(writes, 'guest write')} dropped, ${count(reads, 'read')} answered with all ones`];
      return [];
    });
  }

  /** Stops the VM if it still runs, then releases the vCPUs, the VM, KVM and guest RAM, in that order. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    await this.stop();
    for (const vcpu of this.vcpus) vcpu.close();
    this.kvmVm.close();
    this.kvmSystem.close();
    this.memory.release();
  }

  /** The VM is to be in `state` (created, running, paused): at once, or once the reset under way ends. */
  private want(state: VmStateValue): void {
    this.wanted = state;
    if (!this.resetting) this.control.setVmState(state);
  }

  private async resetOnce(): Promise<boolean> {
    const { control } = this;
    if (control.vmState === VmState.stopping) return false;
    const ids = this.vcpus.map((_vcpu, id) => id);
    control.setVmState(VmState.paused);
    this.kicker.kickAll();
    if (!(await this.unlessEnded(Promise.all(ids.map((id) => control.waitForVcpuState(id, VcpuState.paused)))))) return false;
    // Every vCPU waits in its lifecycle, none in KVM_RUN: their registers and the shared state
    // are this thread's until each is asked to reset its own part. Devices first, so that no
    // timer raises an interrupt into a Local APIC after it was reset.
    try {
      resetPlatform(this.spec, this.platformState, this.interrupts);
      loadGuest(this.memory, this.spec);
      powerOnVcpus(this.vcpus, this.spec.boot);
    } catch (error) {
      // Half reset: the guest must not run on from there. It stays paused until stopped.
      this.wanted = VmState.paused;
      throw new ResetError(`The machine reset stopped halfway, so the VM stays paused (quit and start it again): ${error instanceof Error ? error.message : String(error)}`);
    }
    control.powerOnLiveness();
    for (const id of ids) control.requestReset(id);
    if (!(await this.unlessEnded(Promise.all(ids.map((id) => control.waitForReset(id)))))) return false;
    control.setVmState(this.wanted);
    return true;
  }

  /** Whether `waiting` settled with the VM still there (not stopping, nor ended meanwhile). */
  private async unlessEnded(waiting: Promise<unknown>): Promise<boolean> {
    const ended = this.ended.then(
      () => false,
      () => false,
    );
    return (await Promise.race([waiting.then(() => true), ended])) && this.control.vmState !== VmState.stopping;
  }

  /** The guest reset the machine (a triple fault) and the VM resets on that: a reset, then the listeners told. */
  private guestReset(request: GuestRequest): void {
    if (this.guestResetQueued) return;
    this.guestResetQueued = true;
    const reset = this.reset();
    reset.then(
      (done) => {
        this.guestResetQueued = false;
        if (done) for (const listener of this.guestEventListeners) listener(request);
      },
      (error: unknown) => {
        this.guestResetQueued = false;
        this.failWith(error instanceof Error ? error : new Error(String(error)));
        void this.stop();
      },
    );
  }

  /** The guest powered off, reset or crashed, and the VM pauses on that (-no-shutdown, libvirt's preserve): every vCPU stopped, then the listeners told. */
  private async guestPause(request: GuestRequest): Promise<void> {
    await this.pause();
    if (this.control.vmState === VmState.stopping) return;
    for (const listener of this.guestEventListeners) listener(request);
  }

  private async startWorkers(options: VmOptions, setupOf: (index: number) => WorkerSetup): Promise<void> {
    this.report = options.report;
    const ready = this.workers.map(
      (worker, id) =>
        new Promise<void>((resolve, reject) => {
          const thread = id < this.vcpus.length ? `the thread of vCPU ${id}` : 'the platform timer thread';
          worker.on('message', (message: VcpuWorkerMessage) => {
            switch (message.type) {
              case 'ready':
                if (id < this.vcpus.length) this.threadAffinities[id] = message.affinity;
                resolve();
                break;
              case 'exit':
                void this.stopWorkers().then(() => this.endWith(message.exit));
                break;
              case 'guest-request':
                if (message.request.action === 'reset') this.guestReset(message.request);
                else void this.guestPause(message.request);
                break;
              case 'report':
                options.report(message.message);
                break;
              case 'unassigned':
                options.onUnassigned?.(message.access);
                break;
              case 'fatal': {
                const error = new TsvisorError(`internal error in ${thread}:\n${message.message}`, ExitStatus.internal);
                reject(error);
                this.failWith(error);
                void this.stop();
                break;
              }
              case 'stopped':
                if (message.stopPoint) this.stopPoints[id] = message.stopPoint;
                break;
            }
          });
          worker.on('error', (error) => {
            reject(error);
            this.failWith(error);
          });
          worker.postMessage(setupOf(id));
        }),
    );
    await Promise.all(ready);
  }

  /**
   * A vCPU thread that does not leave its loop when told to is stuck where tsvisor cannot see:
   * in KVM_RUN, or in a host call. Its thread's state and the kernel function it waits in
   * (/proc/self/task/<tid>/wchan) say where, before the thread is terminated.
   */
  private reportStuckVcpu(id: number): void {
    const tid = this.control.tid(id);
    const state = VCPU_STATE_NAMES[this.control.vcpuState(id)] ?? 'unknown';
    const thread = tid > 0 ? hostThreadState(tid) : 'gone';
    this.report(
      `vCPU ${id} did not stop within ${WORKER_STOP_TIMEOUT_MS / 1000} s of being told to (it was ${state}; its host thread ${tid || '-'}: ${thread}), so tsvisor terminated its thread. A thread waiting in a kvm_*, svm_* or vmx_* function is inside the host's KVM, which did not return from KVM_RUN.`,
    );
  }

  /**
   * Tells every vCPU to leave its loop, kicks them, and waits until each thread has left it
   * ('stopped', and the thread goes back to the pool) or ended.
   */
  private stopWorkers(): Promise<void> {
    this.stopping ??= (async () => {
      this.control.setVmState(VmState.stopping);
      this.kicker.kickAll();
      const reusable = await Promise.all(
        this.workers.map((worker, id) => {
          const timer = setTimeout(() => {
            if (id < this.vcpus.length) this.reportStuckVcpu(id);
            else this.report(`The platform timer thread did not stop within ${WORKER_STOP_TIMEOUT_MS / 1000} s of being told to, so tsvisor terminated it.`);
            void worker.terminate();
          }, WORKER_STOP_TIMEOUT_MS);
          const ended = (this.workerExits[id] as Promise<void>).then(() => false);
          return Promise.race([this.workerStops[id] as Promise<boolean>, ended]).then((stopped) => {
            clearTimeout(timer);
            return stopped;
          });
        }),
      );
      retireVcpuThreads(this.workers.filter((_worker, id) => reusable[id]));
    })();
    return this.stopping;
  }
}

/** The images and the boot data in guest RAM, at create and again at each machine reset. */
function loadGuest(memory: GuestMemory, spec: VmSpec): void {
  loadImages(memory, spec.images);
  writeBootData(memory, spec.boot, multibootInputsOf(spec));
}

const VCPU_STATE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(Object.entries(VcpuState).map(([name, value]) => [value, name]));

/** A host thread's scheduler state and the kernel function it sleeps in, from /proc. */
function hostThreadState(tid: number): string {
  try {
    const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    const wchan = readFileSync(`/proc/self/task/${tid}/wchan`, 'utf8').trim();
    return `state ${state}${wchan && wchan !== '0' ? `, waiting in ${wchan}` : ', running'}`;
  } catch {
    return 'gone';
  }
}

const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`;
