/**
 * The state the main thread and the vCPU workers share to run a VM: the VM's lifecycle
 * state, and for each vCPU its state, its wake word, its kernel tid, its start request and
 * two timestamps. One SharedArrayBuffer; every thread builds a VmControl over it.
 *
 * Signalling follows ../ARCHITECTURE.md: a request is written first, then the target is
 * woken: with Atomics.notify on its wake word when it sleeps, or kicked out of KVM_RUN
 * (kick.ts) when it runs. A vCPU re-reads the requests after every exit and before every
 * sleep, so none is lost.
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
  /** An application processor waiting for its start request (INIT/SIPI). */
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
const VM_WORDS = 4;
// vCPU words, from VM_WORDS + id * VCPU_WORDS.
const STATE = 0;
const WAKE = 1;
const TID = 2;
const START_REQUESTED = 3;
const START_VECTOR = 4;
/** 0 while the vCPU waits for a start-up IPI (an AP from power-on, or any vCPU after INIT). */
const STARTED = 5;
const VCPU_WORDS = 8;
// Timestamps (process.hrtime.bigint(), nanoseconds), by id * TIMESTAMPS.
const KICK_HANDLED = 0;
const WOKEN = 1;
const TIMESTAMPS = 2;

export class VmControl {
  private readonly words: Int32Array;
  private readonly times: BigInt64Array;

  constructor(
    readonly vcpuCount: number,
    readonly buffer: SharedArrayBuffer = new SharedArrayBuffer((VM_WORDS + vcpuCount * VCPU_WORDS) * 4 + vcpuCount * TIMESTAMPS * 8),
  ) {
    const wordBytes = (VM_WORDS + vcpuCount * VCPU_WORDS) * 4;
    this.words = new Int32Array(buffer, 0, wordBytes / 4);
    this.times = new BigInt64Array(buffer, wordBytes, vcpuCount * TIMESTAMPS);
  }

  get vmState(): VmStateValue {
    return Atomics.load(this.words, VM_STATE) as VmStateValue;
  }

  /** Sets the VM state and wakes every sleeping vCPU to look at it. Stopping is final. */
  setVmState(state: VmStateValue): void {
    if (this.vmState === VmState.stopping) return;
    Atomics.store(this.words, VM_STATE, state);
    for (let id = 0; id < this.vcpuCount; id++) this.wake(id);
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
   * A start-up IPI: a vCPU waiting for one starts in real mode at vector << 12; one that
   * already started ignores it, as the SDM's INIT-SIPI-SIPI sequence needs (vol. 3A, 8.4.4.1:
   * the second SIPI is for a processor that missed the first). Callable from any thread.
   * True when it starts the vCPU.
   */
  startup(id: number, vector: number): boolean {
    if (Atomics.compareExchange(this.words, this.at(id, STARTED), 0, 1) !== 0) return false;
    Atomics.store(this.words, this.at(id, START_VECTOR), vector & 0xff);
    Atomics.store(this.words, this.at(id, START_REQUESTED), 1);
    this.wake(id);
    return true;
  }

  /** The vCPU has started (the bootstrap processor does at power-on). */
  markStarted(id: number): void {
    Atomics.store(this.words, this.at(id, STARTED), 1);
  }

  /** After INIT: the vCPU waits for a start-up IPI again, forgetting any earlier one. */
  awaitStartup(id: number): void {
    Atomics.store(this.words, this.at(id, START_REQUESTED), 0);
    Atomics.store(this.words, this.at(id, STARTED), 0);
  }

  /** The start vector, once, if a start was requested. */
  takeStartRequest(id: number): number | undefined {
    if (Atomics.exchange(this.words, this.at(id, START_REQUESTED), 0) === 0) return undefined;
    return Atomics.load(this.words, this.at(id, START_VECTOR));
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
