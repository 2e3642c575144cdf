/**
 * The High Precision Event Timer (IA-PC HPET Specification 1.0a), as a state machine: a
 * 64-bit main counter at 14.31818 MHz and three comparators ("timers") that raise
 * interrupts on IO APIC pins when the counter reaches them.
 *
 * The counter is not ticked: while it runs it is computed from the host clock, as the value
 * it had when it was started (or written) plus the periods elapsed since. Each timer keeps
 * the counter value of its next match and, while the counter runs, the host time of that
 * match (a Number of monotonic ns). Matches are found late, whenever the host looks: every
 * register access first fires the timers that are due by now, so the guest always reads what
 * the hardware would show; and vCPU 0's thread calls `serviceTimers` at `nextDeadline()`, the
 * earliest match of a timer whose interrupt is enabled, so interrupts arrive on time even
 * when the guest touches nothing. A timer found late fires once; a periodic one then moves
 * its comparator on past the counter (a coalesced tick, not a burst of them).
 *
 * Every vCPU thread builds its own Hpet over the same SharedState, so each access takes the
 * lock and reads the clock inside it: accesses from different vCPUs see one counter that
 * never goes backwards. Interrupt lines are driven inside the lock too (the device lock is
 * taken before the IO APIC's, never after), so that two vCPUs' level changes reach the IO
 * APIC in the order the device made them; `onDeadlineChange` is called after unlocking.
 *
 * Choices the specification leaves open, or that a VM has to make:
 * - Accesses of any size at any offset work (2.3.2 allows only 32-bit accesses to 00h/04h
 *   of a register and 64-bit ones to 00h): each byte reads or writes its register's byte,
 *   and an access across a register boundary is one partial access to each register.
 *   Reserved registers, timers 3 to 31, and anything past the 1 KiB block read 0 and
 *   ignore writes.
 * - The main counter takes a write while it runs as it does while halted (2.3.7 says to write
 *   it only halted): counting goes on from the written value, and every comparator is
 *   matched against it afresh.
 * - A comparator the guest writes at or behind the counter (in 32-bit mode, less than half
 *   the 32-bit range behind) fires at once, as QEMU's does, instead of waiting for the
 *   counter to wrap round to it as 2.3.9.2.1 warns hardware would: a vCPU can be preempted
 *   between reading the counter and writing the comparator for far longer than hardware's
 *   nanoseconds, and a guest that does not check would wait minutes or forever. A counter
 *   write or a mode change matches strictly: a comparator the counter has passed waits.
 * - A one-shot timer fires once per programming; the further interrupt 2.3.9.2.1 gives a
 *   32-bit one-shot timer "when the main counter wraps around" is not modelled.
 * - A Tn_INT_ROUTE_CNF value outside Tn_INT_ROUTE_CAP is not taken: the field keeps its
 *   value, so that it reads back different from what was written, as 2.3.8 says. The reset
 *   route, 0, is outside the capability: an unrouted timer's interrupts go nowhere.
 * - No FSB (MSI) delivery: Tn_FSB_INT_DEL_CAP is 0, and the FSB route register reads 0.
 */
import type { BusDevice, InterruptLine } from './bus-device.js';
import { monotonicNanos } from '../host/clock.js';
import { SharedState } from './shared-state.js';

/** Where PC chipsets (and QEMU) put the block, for the ACPI HPET table to report. */
export const HPET_MMIO_BASE = 0xfed0_0000;
/** The register block is 1 KiB (2.1.1); a platform may map a 4 KiB page, the rest reading 0. */
export const HPET_MMIO_SIZE = 0x400;
/** The minimum 2.2 recommends, as Intel's ICH chipsets and QEMU have. */
export const HPET_TIMER_COUNT = 3;
/**
 * COUNTER_CLK_PERIOD, the tick in femtoseconds: the PC's 14.31818 MHz crystal (10^15 /
 * 14318180, rounded), the period Intel's ICH HPETs report.
 */
export const HPET_PERIOD_FS = 69_841_279;
/** VENDOR_ID: Intel's PCI vendor ID, as ICH chipsets and QEMU report. */
export const HPET_VENDOR_ID = 0x8086;
export const HPET_REV_ID = 1;
/**
 * Tn_INT_ROUTE_CAP of every timer: IO APIC pins 20 to 23, the top of a 24-pin IO APIC,
 * clear of the ISA IRQs (0 to 15) and of the PCI INTx pins below them.
 */
export const HPET_ROUTE_CAP = 0x00f0_0000;
/** Legacy replacement routes (2.4.2.1): timer 0 replaces the 8254 (IRQ0, IO APIC pin 2), timer 1 the RTC (IRQ8, pin 8). */
export const HPET_LEGACY_TIMER0_PIN = 2;
export const HPET_LEGACY_TIMER1_PIN = 8;

/** Register offsets (2.3.1, Table 2). Each register is 64 bits. */
export const HPET_CAPABILITIES = 0x000;
export const HPET_CONFIGURATION = 0x010;
export const HPET_INTERRUPT_STATUS = 0x020;
export const HPET_MAIN_COUNTER = 0x0f0;
const FIRST_TIMER = 0x100;
const TIMER_STRIDE = 0x20;
const TIMER_CONFIGURATION = 0x00;
const TIMER_COMPARATOR = 0x08;
const TIMER_FSB_ROUTE = 0x10;
/** Timer n's Configuration and Capabilities register. */
export const hpetTimerConfiguration = (timer: number) => FIRST_TIMER + TIMER_STRIDE * timer + TIMER_CONFIGURATION;
/** Timer n's Comparator register. */
export const hpetTimerComparator = (timer: number) => FIRST_TIMER + TIMER_STRIDE * timer + TIMER_COMPARATOR;
/** Timer n's FSB Interrupt Route register (2.3.10). */
export const hpetTimerFsbRoute = (timer: number) => FIRST_TIMER + TIMER_STRIDE * timer + TIMER_FSB_ROUTE;

// General Capabilities and ID bits (2.3.4); COUNTER_CLK_PERIOD is bits 63:32.
export const NUM_TIM_CAP_SHIFT = 8; // the last timer's number
export const COUNT_SIZE_CAP = 1 << 13; // a 64-bit main counter
export const LEG_RT_CAP = 1 << 15;
export const VENDOR_ID_SHIFT = 16;

// General Configuration bits (2.3.5); the rest are reserved and read 0.
export const ENABLE_CNF = 1 << 0; // the counter runs and timers may interrupt
export const LEG_RT_CNF = 1 << 1; // legacy replacement routing for timers 0 and 1
const CONFIGURATION_WRITABLE = ENABLE_CNF | LEG_RT_CNF;

// Timer N Configuration and Capabilities bits (2.3.8); Tn_INT_ROUTE_CAP is bits 63:32.
export const TN_INT_TYPE_CNF = 1 << 1; // 1 level-triggered, 0 edge
export const TN_INT_ENB_CNF = 1 << 2;
export const TN_TYPE_CNF = 1 << 3; // periodic
export const TN_PER_INT_CAP = 1 << 4; // read-only: periodic-capable
export const TN_SIZE_CAP = 1 << 5; // read-only: a 64-bit comparator
export const TN_VAL_SET_CNF = 1 << 6; // the next comparator write sets a periodic timer's comparator
export const TN_32MODE_CNF = 1 << 8;
export const TN_INT_ROUTE_CNF_SHIFT = 9;
export const TN_INT_ROUTE_CNF_MASK = 0x1f << TN_INT_ROUTE_CNF_SHIFT;
export const TN_FSB_EN_CNF = 1 << 14; // reads 0: no FSB delivery
export const TN_FSB_INT_DEL_CAP = 1 << 15; // reads 0
const TIMER_WRITABLE = TN_INT_TYPE_CNF | TN_INT_ENB_CNF | TN_TYPE_CNF | TN_VAL_SET_CNF | TN_32MODE_CNF | TN_INT_ROUTE_CNF_MASK;
/** Every timer is periodic-capable and 64 bits wide. */
const TIMER_CAPABILITIES = TN_PER_INT_CAP | TN_SIZE_CAP;
const ALL_TIMERS = (1 << HPET_TIMER_COUNT) - 1;

const CAPABILITIES =
  (BigInt(HPET_PERIOD_FS) << 32n) |
  BigInt(((HPET_VENDOR_ID << VENDOR_ID_SHIFT) | LEG_RT_CAP | COUNT_SIZE_CAP | ((HPET_TIMER_COUNT - 1) << NUM_TIM_CAP_SHIFT) | HPET_REV_ID) >>> 0);
const ROUTE_CAPABILITIES = BigInt(HPET_ROUTE_CAP) << 32n;

const PERIOD_FS = BigInt(HPET_PERIOD_FS);
const FS_PER_NS = 1_000_000n;
const MASK_32 = 0xffff_ffffn;
const MASK_64 = 0xffff_ffff_ffff_ffffn;
const HALF_32_RANGE = 1n << 31n;
const HALF_64_RANGE = 1n << 63n;
/** No host timer reaches this far (the shim arms CLOCK_MONOTONIC with a 64-bit count of ns): matches beyond it never fire. */
const UNREACHABLE_NS = 2 ** 63;

/** The shared words. 64-bit registers take two (low first); host times are Numbers, bit for bit in two. */
const INITIALISED = 0; // 0 in a fresh block: the first view sets the reset state
const CONFIGURATION = 1;
const INTERRUPT_STATUS = 2;
const ASSERTED_PINS = 3; // IO APIC pins held high by level-triggered timers, a bit each
const COUNTER_BASE = 4; // the counter when last started or written; while halted, its value
const STARTED_AT = 6; // the host time of COUNTER_BASE while the counter runs
const NEXT_DEADLINE = 8;
const FIRST_TIMER_WORD = 10;
// Each timer's words, from its first.
const TIMER_CONF = 0; // Tn_CONF_CAP bits 31:0 that are writable
const COMPARATOR = 1;
const INCREMENT = 3; // a periodic timer's "value last written" (2.3.9.1)
const MATCH_PENDING = 5; // 1 while a match is ahead
const MATCH = 6; // the counter value of that match (in 32-bit mode, the comparator's full 64-bit position)
const FIRE_AT = 8; // the host time of that match while the counter runs, else Infinity
/** A statistic: periods a periodic timer's interrupt skipped because it was serviced late (one fire for several matches). */
const PERIODS_COALESCED = 10;
const WORDS_PER_TIMER = 11;
/** The number of words an HPET's shared state holds. */
/**
 * NEXT_DEADLINE's sequence: odd while a writer (under the lock) changes the deadline, so that
 * vCPU 0 reads it after every exit without taking the lock (a seqlock).
 */
const DEADLINE_SEQUENCE = FIRST_TIMER_WORD + WORDS_PER_TIMER * HPET_TIMER_COUNT;
export const HPET_STATE_WORDS = DEADLINE_SEQUENCE + 1;

/** Periods of timer `timer` whose interrupts coalesced into one because the timer was serviced late (a statistic). */
export function hpetPeriodsCoalesced(state: SharedState, timer: number): number {
  return state.load(FIRST_TIMER_WORD + timer * WORDS_PER_TIMER + PERIODS_COALESCED);
}

export interface HpetOptions {
  /** The state shared with the other threads' views of this HPET (a fresh one when omitted). */
  readonly state?: SharedState;
  /** The host clock, in monotonic ns (monotonicNanos unless a test brings its own). */
  readonly now?: () => number;
  /** IO APIC input pin `pin`, as a line the HPET drives. */
  readonly irqLine: (pin: number) => InterruptLine;
  /** Called (outside the lock) after an access moved `nextDeadline()`, for the platform to wake vCPU 0. */
  readonly onDeadlineChange: () => void;
}

export class Hpet implements BusDevice {
  private readonly state: SharedState;
  private readonly now: () => number;
  private readonly irqLine: (pin: number) => InterruptLine;
  private readonly onDeadlineChange: () => void;
  private readonly lines = new Map<number, InterruptLine>();

  constructor(options: HpetOptions) {
    this.state = options.state ?? new SharedState(HPET_STATE_WORDS);
    if (this.state.wordCount < HPET_STATE_WORDS) throw new RangeError('the HPET needs a larger shared state');
    this.now = options.now ?? monotonicNanos;
    this.irqLine = options.irqLine;
    this.onDeadlineChange = options.onDeadlineChange;
    this.state.locked(() => {
      if (this.state.get(INITIALISED) === 0) this.initialise();
    });
  }

  read(offset: number, data: Uint8Array): void {
    this.access((now) => {
      let register = -1;
      let value = 0n;
      for (let i = 0; i < data.length; i++) {
        const address = offset + i;
        if ((address & ~7) !== register) {
          register = address & ~7;
          value = this.readRegister(register, now);
        }
        data[i] = Number((value >> BigInt(8 * (address - register))) & 0xffn);
      }
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.access((now) => {
      let i = 0;
      while (i < data.length) {
        const register = (offset + i) & ~7;
        let value = 0n;
        let mask = 0n;
        for (; i < data.length && offset + i < register + 8; i++) {
          const shift = BigInt(8 * (offset + i - register));
          value |= BigInt(data[i] as number) << shift;
          mask |= 0xffn << shift;
        }
        this.writeRegister(register, value, mask, now);
      }
    });
  }

  /**
   * The host time (monotonic ns) of the earliest match of a timer whose interrupt is
   * enabled, Infinity when there is none or the counter is halted. Cheap: a stored Number,
   * read without the lock (SharedState.readNumberWithoutLock, a seqlock).
   */
  nextDeadline(): number {
    return this.state.readNumberWithoutLock(DEADLINE_SEQUENCE, NEXT_DEADLINE);
  }

  /** Fires every timer due by `now`; vCPU 0's thread calls it when its deadline timer goes off. */
  serviceTimers(now: number): void {
    this.state.locked(() => {
      this.fireDueTimers(now);
      this.settle();
    });
  }

  /** Runs a register access under the lock, at the time read there, and reports a moved deadline after. */
  private access(action: (now: number) => void): void {
    const deadlineMoved = this.state.locked(() => {
      const deadlineBefore = this.state.getNumber(NEXT_DEADLINE);
      const now = this.now();
      // The state as the hardware would have it by now, before the access sees or changes it.
      this.fireDueTimers(now);
      action(now);
      // A comparator or counter write can make a match due at once.
      this.fireDueTimers(now);
      this.settle();
      return this.state.getNumber(NEXT_DEADLINE) !== deadlineBefore;
    });
    if (deadlineMoved) this.onDeadlineChange();
  }

  /**
   * A machine reset: the reset state below, the timers' level interrupts lowered, and the
   * platform timer thread told that the deadline moved. The coalesced-period counts are
   * statistics and survive; the deadline's sequence word only ever grows (readers follow it).
   */
  reset(): void {
    const keep = [DEADLINE_SEQUENCE, ...Array.from({ length: HPET_TIMER_COUNT }, (_, timer) => this.timerWord(timer, PERIODS_COALESCED))];
    this.state.locked(() => {
      const asserted = this.state.get(ASSERTED_PINS);
      this.state.zero(keep);
      this.initialise();
      for (let pin = 0; asserted >>> pin; pin++) if ((asserted >>> pin) & 1) this.line(pin).setLevel(false);
    });
    this.onDeadlineChange();
  }

  /** The reset state (3.1): counter halted at 0, comparators all ones, interrupts off. */
  private initialise(): void {
    for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) {
      this.set64(this.timerWord(timer, COMPARATOR), MASK_64);
      this.arm(timer, 0n, false);
    }
    this.setDeadline(Infinity);
    this.state.set(INITIALISED, 1);
  }

  private readRegister(register: number, now: number): bigint {
    switch (register) {
      case HPET_CAPABILITIES:
        return CAPABILITIES;
      case HPET_CONFIGURATION:
        return BigInt(this.configuration);
      case HPET_INTERRUPT_STATUS:
        return BigInt(this.interruptStatus);
      case HPET_MAIN_COUNTER:
        return this.counterAt(now);
    }
    const timer = timerOf(register);
    if (timer === undefined) return 0n;
    switch (register - hpetTimerConfiguration(timer)) {
      case TIMER_CONFIGURATION:
        return ROUTE_CAPABILITIES | BigInt(this.timerConfiguration(timer) | TIMER_CAPABILITIES);
      case TIMER_COMPARATOR:
        return this.get64(this.timerWord(timer, COMPARATOR));
      default:
        return 0n; // the FSB route (no FSB delivery) and the reserved quadword
    }
  }

  /** Writes the bytes of `value` that `mask` selects; the rest of the register keeps its value. */
  private writeRegister(register: number, value: bigint, mask: bigint, now: number): void {
    switch (register) {
      case HPET_CONFIGURATION:
        this.writeConfiguration(Number(merge(BigInt(this.configuration), value, mask) & BigInt(CONFIGURATION_WRITABLE)), now);
        return;
      case HPET_INTERRUPT_STATUS:
        // 2.3.6: writing 1 clears a timer's bit, writing 0 leaves it.
        this.interruptStatus &= ~Number(value & mask & BigInt(ALL_TIMERS));
        return;
      case HPET_MAIN_COUNTER:
        this.setCounter(merge(this.counterAt(now), value, mask), now);
        return;
    }
    const timer = timerOf(register);
    if (timer === undefined) return;
    switch (register - hpetTimerConfiguration(timer)) {
      case TIMER_CONFIGURATION:
        // Bits 63:32 are the read-only route capability.
        this.writeTimerConfiguration(timer, Number(merge(BigInt(this.timerConfiguration(timer)), value, mask) & MASK_32), now);
        return;
      case TIMER_COMPARATOR:
        this.writeComparator(timer, value, mask, now);
        return;
    }
    // The capabilities register (read-only, 2.3.4), FSB routes and reserved registers ignore writes.
  }

  /** 2.3.5: ENABLE_CNF starts and halts the counter; LEG_RT_CNF reroutes timers 0 and 1. */
  private writeConfiguration(configuration: number, now: number): void {
    const wasRunning = (this.configuration & ENABLE_CNF) !== 0;
    const runs = (configuration & ENABLE_CNF) !== 0;
    if (wasRunning && !runs) this.set64(COUNTER_BASE, this.counterAt(now));
    if (runs && !wasRunning) this.state.setNumber(STARTED_AT, now);
    this.configuration = configuration;
    if (runs !== wasRunning) for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) this.updateFireTime(timer);
  }

  /** 2.3.7: counting goes on from `value`, and each comparator is matched against it afresh. */
  private setCounter(value: bigint, now: number): void {
    this.set64(COUNTER_BASE, value);
    this.state.setNumber(STARTED_AT, now); // only read while the counter runs
    for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) this.arm(timer, value, false);
  }

  /** 2.3.8. */
  private writeTimerConfiguration(timer: number, written: number, now: number): void {
    const previous = this.timerConfiguration(timer);
    let configuration = written & TIMER_WRITABLE;
    // A route outside the capability is not taken: the field reads back what it held.
    const route = (configuration & TN_INT_ROUTE_CNF_MASK) >> TN_INT_ROUTE_CNF_SHIFT;
    if (!isRoutable(route)) configuration = (configuration & ~TN_INT_ROUTE_CNF_MASK) | (previous & TN_INT_ROUTE_CNF_MASK);
    this.setTimerConfiguration(timer, configuration);
    if (configuration & TN_32MODE_CNF) {
      // 2.4.7: a timer in 32-bit mode behaves as a 32-bit timer, "the upper 32-bits will always be 0".
      const comparator = this.timerWord(timer, COMPARATOR);
      const increment = this.timerWord(timer, INCREMENT);
      this.set64(comparator, this.get64(comparator) & MASK_32);
      this.set64(increment, this.get64(increment) & MASK_32);
    }
    // A new compare width or mode changes where the next match is.
    if ((previous ^ configuration) & (TN_TYPE_CNF | TN_32MODE_CNF)) this.arm(timer, this.counterAt(now), false);
  }

  /**
   * 2.3.9.1 and 2.3.9.2.3: a one-shot timer's write sets the comparator. A periodic timer's
   * write sets the increment, "the value last written", added to the comparator at each
   * match; with Tn_VAL_SET_CNF it sets the comparator ("the accumulator", 2.3.8 bit 6) as
   * well, so that the usage model of 2.3.9.2.2 (Tn_VAL_SET_CNF, then one write) gives the
   * first match and the period at once, and the two writes Linux makes (the comparator, then
   * the period) work too. Tn_VAL_SET_CNF clears after any comparator write, so a 64-bit
   * periodic comparator is set with one 64-bit write (or in 32-bit mode).
   */
  private writeComparator(timer: number, value: bigint, mask: bigint, now: number): void {
    const configuration = this.timerConfiguration(timer);
    const width = configuration & TN_32MODE_CNF ? MASK_32 : MASK_64;
    const periodic = (configuration & TN_TYPE_CNF) !== 0;
    const setsComparator = !periodic || (configuration & TN_VAL_SET_CNF) !== 0;
    if (periodic) {
      const increment = this.timerWord(timer, INCREMENT);
      this.set64(increment, merge(this.get64(increment), value, mask) & width);
    }
    this.setTimerConfiguration(timer, configuration & ~TN_VAL_SET_CNF);
    if (setsComparator) {
      const comparator = this.timerWord(timer, COMPARATOR);
      this.set64(comparator, merge(this.get64(comparator), value, mask) & width);
      this.arm(timer, this.counterAt(now), true);
    }
  }

  /**
   * Finds the timer's next match from `counter`: the counter value at which the counter
   * reaches the comparator (in 32-bit mode, its low half does, wrapping). A comparator the
   * counter has passed matches at once when `passedFiresNow` (a comparator the guest just
   * wrote; in 32-bit mode, less than half the range behind), else only after a wrap: in
   * 32-bit mode 2^32 ticks on, in 64-bit mode never.
   */
  private arm(timer: number, counter: bigint, passedFiresNow: boolean): void {
    const comparator = this.get64(this.timerWord(timer, COMPARATOR));
    let ticksAhead: bigint | undefined;
    if (this.timerConfiguration(timer) & TN_32MODE_CNF) {
      ticksAhead = BigInt.asUintN(32, comparator - counter);
      if (passedFiresNow && ticksAhead >= HALF_32_RANGE) ticksAhead = 0n;
    } else if (comparator >= counter) ticksAhead = comparator - counter;
    else if (passedFiresNow) ticksAhead = 0n;
    this.state.set(this.timerWord(timer, MATCH_PENDING), ticksAhead === undefined ? 0 : 1);
    if (ticksAhead !== undefined) this.set64(this.timerWord(timer, MATCH), BigInt.asUintN(64, counter + ticksAhead));
    this.updateFireTime(timer);
  }

  /** The host time of the timer's pending match while the counter runs: the first ns at which the counter has reached it. */
  private updateFireTime(timer: number): void {
    let fireAt = Infinity;
    if (this.state.get(this.timerWord(timer, MATCH_PENDING)) && this.configuration & ENABLE_CNF) {
      const ticks = BigInt.asUintN(64, this.get64(this.timerWord(timer, MATCH)) - this.get64(COUNTER_BASE));
      const at = this.state.getNumber(STARTED_AT) + Number((ticks * PERIOD_FS + FS_PER_NS - 1n) / FS_PER_NS);
      if (at < UNREACHABLE_NS) fireAt = at;
    }
    this.state.setNumber(this.timerWord(timer, FIRE_AT), fireAt);
  }

  private fireDueTimers(now: number): void {
    for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) {
      if (this.state.getNumber(this.timerWord(timer, FIRE_AT)) <= now) this.fire(timer, now);
    }
  }

  /**
   * A match, found at `now`. A periodic timer's comparator advances by its increment
   * (2.3.9.2.2), wrapping through 0 (2.3.9.1); if the counter has gone past several periods
   * (the host was late) it advances past the counter in one step, and the timer fires once.
   * A periodic timer with increment 0 and a one-shot timer have no further match.
   */
  private fire(timer: number, now: number): void {
    const configuration = this.timerConfiguration(timer);
    const increment = this.get64(this.timerWord(timer, INCREMENT));
    if (configuration & TN_TYPE_CNF && increment !== 0n) {
      const comparatorWord = this.timerWord(timer, COMPARATOR);
      const comparator = this.get64(comparatorWord);
      const match = this.get64(this.timerWord(timer, MATCH));
      // Rounding in a large host time can leave the counter a tick short of the match it is due at.
      const pastMatch = BigInt.asUintN(64, this.counterAt(now) - match);
      const counter = match + (pastMatch < HALF_64_RANGE ? pastMatch : 0n);
      // Where the comparator sits on the counter: in 32-bit mode the match holds its full
      // position; in 64-bit mode it is the comparator itself (below the match when the guest
      // wrote it behind the counter).
      const comparatorPosition = configuration & TN_32MODE_CNF ? match : comparator;
      const periodsPassed = BigInt.asUintN(64, counter - comparatorPosition) / increment;
      const advance = (periodsPassed + 1n) * increment;
      if (periodsPassed > 0n && configuration & TN_INT_ENB_CNF) this.state.add(this.timerWord(timer, PERIODS_COALESCED), Number(periodsPassed));
      this.set64(comparatorWord, (comparator + advance) & (configuration & TN_32MODE_CNF ? MASK_32 : MASK_64));
      this.set64(this.timerWord(timer, MATCH), BigInt.asUintN(64, comparatorPosition + advance));
    } else {
      this.state.set(this.timerWord(timer, MATCH_PENDING), 0);
    }
    this.updateFireTime(timer);
    this.raiseInterrupt(timer);
  }

  /**
   * A level-triggered timer sets its status bit (2.3.6), even with its interrupt disabled
   * (2.3.8 bit 2), which holds its line high; an edge-triggered one pulses its line, and
   * leaves the status bit alone (2.3.6: software ignores it in edge mode).
   */
  private raiseInterrupt(timer: number): void {
    const configuration = this.timerConfiguration(timer);
    if (configuration & TN_INT_TYPE_CNF) {
      this.interruptStatus |= 1 << timer;
      this.updateLevelLines();
      return;
    }
    if (!(configuration & TN_INT_ENB_CNF)) return;
    const pin = this.pinOf(timer);
    // A line a level-triggered timer holds high shows no edge.
    if (pin === undefined || this.state.get(ASSERTED_PINS) & (1 << pin)) return;
    const line = this.line(pin);
    line.setLevel(true);
    line.setLevel(false);
  }

  /** After any change: the level lines follow the state, and the deadline follows the enabled timers. */
  private settle(): void {
    this.updateLevelLines();
    let earliest = Infinity;
    for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) {
      if (this.timerConfiguration(timer) & TN_INT_ENB_CNF) earliest = Math.min(earliest, this.state.getNumber(this.timerWord(timer, FIRE_AT)));
    }
    this.setDeadline(earliest);
  }

  /** Under the lock: the deadline, inside its sequence (see nextDeadline). */
  private setDeadline(deadline: number): void {
    this.state.publishNumber(DEADLINE_SEQUENCE, NEXT_DEADLINE, deadline);
  }

  /**
   * A pin is high while a level-triggered timer routed to it has its status bit set and its
   * interrupt enabled, and the HPET is enabled (2.3.5: ENABLE_CNF 0 disables all timer
   * interrupts). Timers sharing a pin share its level.
   */
  private updateLevelLines(): void {
    let wanted = 0;
    if (this.configuration & ENABLE_CNF) {
      for (let timer = 0; timer < HPET_TIMER_COUNT; timer++) {
        const configuration = this.timerConfiguration(timer);
        if (!(configuration & TN_INT_TYPE_CNF && configuration & TN_INT_ENB_CNF && this.interruptStatus & (1 << timer))) continue;
        const pin = this.pinOf(timer);
        if (pin !== undefined) wanted |= 1 << pin;
      }
    }
    const changed = wanted ^ this.state.get(ASSERTED_PINS);
    this.state.set(ASSERTED_PINS, wanted);
    for (let pin = 0; changed >>> pin !== 0; pin++) {
      if ((changed >>> pin) & 1) this.line(pin).setLevel(((wanted >>> pin) & 1) === 1);
    }
  }

  /** The IO APIC pin of a timer's interrupt: legacy replacement (2.3.5, 2.4.2.1) or Tn_INT_ROUTE_CNF when routable. */
  private pinOf(timer: number): number | undefined {
    if (this.configuration & LEG_RT_CNF) {
      if (timer === 0) return HPET_LEGACY_TIMER0_PIN;
      if (timer === 1) return HPET_LEGACY_TIMER1_PIN;
    }
    const route = (this.timerConfiguration(timer) & TN_INT_ROUTE_CNF_MASK) >> TN_INT_ROUTE_CNF_SHIFT;
    return isRoutable(route) ? route : undefined;
  }

  private line(pin: number): InterruptLine {
    let line = this.lines.get(pin);
    if (!line) {
      line = this.irqLine(pin);
      this.lines.set(pin, line);
    }
    return line;
  }

  /** The main counter at host time `now` (2.3.7): frozen while halted. */
  private counterAt(now: number): bigint {
    const base = this.get64(COUNTER_BASE);
    if (!(this.configuration & ENABLE_CNF)) return base;
    const elapsedNs = Math.max(0, Math.floor(now - this.state.getNumber(STARTED_AT)));
    return BigInt.asUintN(64, base + (BigInt(elapsedNs) * FS_PER_NS) / PERIOD_FS);
  }

  // The registers and fields, over the shared state.
  private get configuration() { return this.state.get(CONFIGURATION); }
  private set configuration(value: number) { this.state.set(CONFIGURATION, value); }
  private get interruptStatus() { return this.state.get(INTERRUPT_STATUS); }
  private set interruptStatus(value: number) { this.state.set(INTERRUPT_STATUS, value); }
  private timerConfiguration(timer: number): number { return this.state.get(this.timerWord(timer, TIMER_CONF)); }
  private setTimerConfiguration(timer: number, value: number): void { this.state.set(this.timerWord(timer, TIMER_CONF), value); }

  private timerWord(timer: number, field: number): number {
    return FIRST_TIMER_WORD + WORDS_PER_TIMER * timer + field;
  }

  private get64(word: number): bigint {
    return (BigInt(this.state.get(word + 1) >>> 0) << 32n) | BigInt(this.state.get(word) >>> 0);
  }

  private set64(word: number, value: bigint): void {
    this.state.set(word, Number(value & MASK_32));
    this.state.set(word + 1, Number((value >> 32n) & MASK_32));
  }
}

/** The implemented timer whose registers hold this (8-byte aligned) offset. */
function timerOf(register: number): number | undefined {
  if (register < FIRST_TIMER || register >= FIRST_TIMER + TIMER_STRIDE * HPET_TIMER_COUNT) return undefined;
  return Math.floor((register - FIRST_TIMER) / TIMER_STRIDE);
}

/** Whether Tn_INT_ROUTE_CAP allows IO APIC pin `route`. */
function isRoutable(route: number): boolean {
  return ((HPET_ROUTE_CAP >>> route) & 1) === 1;
}

function merge(old: bigint, value: bigint, mask: bigint): bigint {
  return (old & ~mask) | (value & mask);
}
