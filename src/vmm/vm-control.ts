/**
 * The state the main thread and the vCPU workers share to run a VM: the VM's lifecycle
 * state, how many vCPUs can still run, the platform timer thread's wake word, and for each
 * vCPU its state, its wake word, its kernel tid, whether it can run by itself, and two
 * timestamps. One SharedArrayBuffer; every thread builds a VmControl over it.
 *
 * Signalling (docs/threads.md): a request is written first, then the target is woken: with
 * Atomics.notify on its wake word when it sleeps, or kicked out of KVM_RUN (kick.ts) when it
 * runs. A vCPU re-reads the requests after every exit and before every sleep, so none is lost.
 * Start-up IPIs are latched in the target's Local APIC state (local-apic-state.ts), not here.
 */

export const VmState = {
  /** Built, vCPUs not started yet. */
  created: 0,
  running: 1,
  paused: 2,
  /** Ending: every vCPU leaves its loop. */
  stopping: 3,
} as const;
export type VmStateValue = (typeof VmState)[keyof typeof VmState];

export const VcpuState = {
  /** Waiting for a start-up IPI: an application processor from power-on, or any vCPU after INIT without the BSP flag. */
  parked: 0,
  running: 1,
  /** After HLT, asleep on its wake word. */
  halted: 2,
  paused: 3,
  stopped: 4,
  /** After HLT with interrupts disabled: only NMI or INIT can wake it. */
  haltedUninterruptible: 5,
} as const;
export type VcpuStateValue = (typeof VcpuState)[keyof typeof VcpuState];

// VM words.
const VM_STATE = 0;
const EXIT_CLAIMED = 1;
/**
 * How many vCPUs can still run (not halted with interrupts disabled, not waiting for a SIPI, or
 * stuck but with an event raised for them that they have not looked at yet), plus one for each
 * sender of such an event in the middle of sending it (holdAlive).
 */
const LIVE_VCPUS = 2;
/** Bumped to wake the platform timer thread (a deadline moved, or the VM's state changed). */
const PLATFORM_WAKE = 3;
const VM_WORDS = 4;
// vCPU words, from VM_WORDS + id * VCPU_WORDS.
const STATE = 0;
const WAKE = 1;
const TID = 2;
/** Whether the vCPU cannot run by itself (halted with interrupts disabled, or waiting for a SIPI): STUCK_*. */
const STUCK = 3;
/** 1 from the main thread's machine reset request until the vCPU has reset what its thread holds (Vm.reset). */
const RESET = 4;
const VCPU_WORDS = 5;
const STUCK_NO = 0;
const STUCK_YES = 1;
/** Stuck, with an NMI, INIT or SIPI raised for it and counted in LIVE_VCPUS until it looks. */
const STUCK_REVIVED = 2;
/**
 * Not stuck, and an NMI, INIT or SIPI was raised for it since it last became stuck: should it
 * become stuck before it has looked at that event (it took an INIT, and the SIPI behind it
 * came while it reset), it is revived at once instead of leaving the count.
 */
const STUCK_NO_EVENT_RAISED = 3;
// Timestamps (process.hrtime.bigint(), nanoseconds), by id * TIMESTAMPS.
const KICK_HANDLED = 0;
const WOKEN = 1;
const TIMESTAMPS = 2;

/** Where the timestamps start: after the words, rounded up to the 8 bytes a BigInt64Array needs. */
function timestampsOffset(vcpuCount: number): number {
  return Math.ceil(((VM_WORDS + vcpuCount * VCPU_WORDS) * 4) / 8) * 8;
}

export class VmControl {
  private readonly words: Int32Array;
  private readonly times: BigInt64Array;

  constructor(
    readonly vcpuCount: number,
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer(timestampsOffset(vcpuCount) + vcpuCount * TIMESTAMPS * 8),
  ) {
    this.words = new Int32Array(buffer, 0, VM_WORDS + vcpuCount * VCPU_WORDS);
    this.times = new BigInt64Array(buffer, timestampsOffset(vcpuCount), vcpuCount * TIMESTAMPS);
  }

  /** A fresh VM's control block: the bootstrap processor live, the others waiting for a SIPI. */
  static create(vcpuCount: number): VmControl {
    const control = new VmControl(vcpuCount);
    control.powerOnLiveness();
    return control;
  }

  /**
   * The live count and stuck words as at power-on: the bootstrap processor live, the others
   * waiting for a SIPI. For a machine reset, while every vCPU is paused (none counts itself in
   * or out meanwhile, and no event is on its way).
   */
  powerOnLiveness(): void {
    Atomics.store(this.words, LIVE_VCPUS, 1);
    for (let id = 0; id < this.vcpuCount; id++) Atomics.store(this.words, this.at(id, STUCK), id === 0 ? STUCK_NO : STUCK_YES);
  }

  /** Asks paused vCPU `id` to reset what its thread holds (a machine reset), and wakes it to do so. */
  requestReset(id: number): void {
    Atomics.store(this.words, this.at(id, RESET), 1);
    this.wake(id);
  }

  resetRequested(id: number): boolean {
    return Atomics.load(this.words, this.at(id, RESET)) === 1;
  }

  /** vCPU `id` has reset what its thread holds. */
  resetDone(id: number): void {
    Atomics.store(this.words, this.at(id, RESET), 0);
    Atomics.notify(this.words, this.at(id, RESET));
  }

  /** Waits (async) until vCPU `id` has done the reset requested of it. */
  async waitForReset(id: number): Promise<void> {
    while (this.resetRequested(id)) await Atomics.waitAsync(this.words, this.at(id, RESET), 1).value;
  }

  get vmState(): VmStateValue {
    return Atomics.load(this.words, VM_STATE) as VmStateValue;
  }

  /** Sets the VM state and wakes every sleeping vCPU, and the platform timer thread, to look at it. Stopping is final. */
  setVmState(state: VmStateValue): void {
    if (this.vmState === VmState.stopping) return;
    Atomics.store(this.words, VM_STATE, state);
    for (let id = 0; id < this.vcpuCount; id++) this.wake(id);
    this.wakePlatformTimers();
  }

  /** True for the one caller that gets to end the VM (the first guest exit wins). */
  claimExit(): boolean {
    return Atomics.compareExchange(this.words, EXIT_CLAIMED, 0, 1) === 0;
  }

  vcpuState(id: number): VcpuStateValue {
    return Atomics.load(this.words, this.at(id, STATE)) as VcpuStateValue;
  }

  setVcpuState(id: number, state: VcpuStateValue): void {
    Atomics.store(this.words, this.at(id, STATE), state);
    Atomics.notify(this.words, this.at(id, STATE));
  }

  /** Waits (async) until vCPU `id` is in `state`. */
  async waitForVcpuState(id: number, state: VcpuStateValue): Promise<void> {
    for (let current = this.vcpuState(id); current !== state; current = this.vcpuState(id)) {
      await Atomics.waitAsync(this.words, this.at(id, STATE), current).value;
    }
  }

  tid(id: number): number {
    return Atomics.load(this.words, this.at(id, TID));
  }

  setTid(id: number, tid: number): void {
    Atomics.store(this.words, this.at(id, TID), tid);
  }

  /** The wake word's value before looking at requests: waitForWake(id, seen) returns at once if a wake came since. */
  wakeSequence(id: number): number {
    return Atomics.load(this.words, this.at(id, WAKE));
  }

  wake(id: number): void {
    Atomics.add(this.words, this.at(id, WAKE), 1);
    Atomics.notify(this.words, this.at(id, WAKE));
  }

  /** Sleeps (a worker) until woken after `seen`, or for `timeoutMs`. */
  waitForWake(id: number, seen: number, timeoutMs = Infinity): void {
    Atomics.wait(this.words, this.at(id, WAKE), seen, timeoutMs);
  }

  /**
   * vCPU `id` cannot run by itself from now on: it halted with interrupts disabled, or waits for
   * a SIPI, or an event that revived it did not change that (it gives the count back). It then
   * sleeps until an event may change that, and ends the VM if noVcpuCanRun() while no such event
   * waits for it: two vCPUs doing this at the same moment cannot both miss it, the count being
   * one atomic word.
   */
  /**
   * Returns false when an event raised while it ran is still to be looked at: it then stays
   * counted (revived), and must look at its events and call becomeStuck again before it sleeps.
   */
  becomeStuck(id: number): boolean {
    const at = this.at(id, STUCK);
    for (;;) {
      const current = Atomics.load(this.words, at);
      if (current === STUCK_YES) return true;
      const next = current === STUCK_NO_EVENT_RAISED ? STUCK_REVIVED : STUCK_YES;
      if (Atomics.compareExchange(this.words, at, current, next) !== current) continue; // an event came meanwhile
      if (next === STUCK_REVIVED) return false;
      Atomics.sub(this.words, LIVE_VCPUS, 1);
      return true;
    }
  }

  /** vCPU `id` runs again (an event ended its halt or its wait for a SIPI). */
  becomeLive(id: number): void {
    if (Atomics.exchange(this.words, this.at(id, STUCK), STUCK_NO) === STUCK_YES) Atomics.add(this.words, LIVE_VCPUS, 1);
  }

  /**
   * An NMI, INIT or SIPI was raised for vCPU `id`: if it is stuck, it counts as able to run until
   * it has looked at the event (and either runs, or gives the count back with becomeStuck); if
   * it runs, the event is noted, so that becoming stuck before looking at it does not drop it
   * from the count.
   */
  revive(id: number): void {
    const at = this.at(id, STUCK);
    for (;;) {
      const current = Atomics.load(this.words, at);
      if (current === STUCK_REVIVED || current === STUCK_NO_EVENT_RAISED) return;
      const next = current === STUCK_YES ? STUCK_REVIVED : STUCK_NO_EVENT_RAISED;
      if (Atomics.compareExchange(this.words, at, current, next) !== current) continue;
      if (next === STUCK_REVIVED) Atomics.add(this.words, LIVE_VCPUS, 1);
      return;
    }
  }

  /**
   * Whoever sends an NMI, INIT or SIPI holds the VM alive from before the event is raised until
   * its targets are revived and notified: the count never reads zero in between, even when the
   * sender is not a vCPU (the main thread, the platform timer thread).
   */
  holdAlive(): void {
    Atomics.add(this.words, LIVE_VCPUS, 1);
  }

  releaseAlive(): void {
    Atomics.sub(this.words, LIVE_VCPUS, 1);
  }

  /** No vCPU can run by itself and no event is on its way: nothing can ever wake a stuck vCPU. */
  noVcpuCanRun(): boolean {
    return Atomics.load(this.words, LIVE_VCPUS) === 0;
  }

  /** The platform timer thread's wake word: read before looking at deadlines, then waitForPlatformWake(seen). */
  platformWakeSequence(): number {
    return Atomics.load(this.words, PLATFORM_WAKE);
  }

  /** A platform timer's deadline moved, or the VM's state changed: the timer thread looks again. */
  wakePlatformTimers(): void {
    Atomics.add(this.words, PLATFORM_WAKE, 1);
    Atomics.notify(this.words, PLATFORM_WAKE);
  }

  /** Sleeps (the platform timer thread) until woken after `seen`, or for `timeoutMs`. */
  waitForPlatformWake(seen: number, timeoutMs: number): void {
    Atomics.wait(this.words, PLATFORM_WAKE, seen, timeoutMs);
  }

  /** When vCPU `id` last handled a kick, or woke from a halt (nanoseconds, process.hrtime.bigint()). */
  timestamp(id: number, which: 'kick-handled' | 'woken'): bigint {
    return Atomics.load(this.times, id * TIMESTAMPS + (which === 'kick-handled' ? KICK_HANDLED : WOKEN));
  }

  stamp(id: number, which: 'kick-handled' | 'woken', time = process.hrtime.bigint()): void {
    Atomics.store(this.times, id * TIMESTAMPS + (which === 'kick-handled' ? KICK_HANDLED : WOKEN), time);
  }

  private at(id: number, word: number): number {
    return VM_WORDS + id * VCPU_WORDS + word;
  }
}
