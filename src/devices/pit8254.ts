/**
 * The 8254 Programmable Interval Timer (Intel 82C54 data sheet, order 231244) as the PC wires
 * it: three 16-bit down-counters on a 1.193182 MHz clock at I/O ports 0x40-0x43, channel 0's
 * OUT on IRQ 0, channels 0 and 1 gated on for good, channel 2's gate and OUT on port 0x61
 * (system control port B, SystemControlPortB below).
 *
 * Nothing ticks: while a counter counts, its value and OUT are computed from the host clock as
 * a number of input clocks since it was loaded. Each access first brings the device up to the
 * host time read under its lock (reloads that were due happen, channel 0's interrupts that
 * were due fire), so reads are exact; and the platform timer thread calls `service` at
 * `nextDeadline()`, channel 0's next rising OUT edge, so IRQ 0 arrives on time while the guest
 * touches nothing. Edges found late fire once; the ones skipped are counted
 * (pitCoalescedPeriods). As with the HPET, every thread builds its own Pit over one
 * SharedState, drives the line under the lock and calls `onDeadlineChange` after it.
 *
 * Choices the data sheet leaves open, or that a VM has to make:
 * - A count is loaded at the instant it is written, not on the next input clock: count N
 *   takes exactly N clocks (N / 1193182 s) to reach terminal count, as in QEMU.
 * - BCD counting is modelled (four decades, 0 meaning 10000); a BCD digit above 9 counts
 *   as the nibble's value.
 * - At power-on the counters are undefined ("Operation"); here each starts as if control word
 *   0x36 (mode 3, LSB then MSB, binary) had just been written: waiting for a count, OUT high,
 *   so channel 0 interrupts only once programmed (QEMU starts it counting at 18.2 Hz).
 * - A counter waiting for its count (after a control word, or between the bytes of a mode 0
 *   count) holds the value it had; it reads that value, not the undefined one of hardware.
 * - Interrupts come from counting only: an OUT rise that a control word or a gate change
 *   makes raises none, as in QEMU and KVM. The line is edge-triggered, so each rising edge is
 *   a pulse (level up, then down).
 * - In modes 2 and 3 a count written while counting takes effect at the end of the current
 *   period (the data sheet says half-cycle for mode 3). Counts of 1, illegal in modes 2 and 3
 *   ("Minimum and Maximum Initial Counts"), leave OUT high for good: no interrupts.
 * - A control word clears the channel's latched count and status (it resets "all Control
 *   Logic", "Write Operations").
 * - Accesses wider than a byte are split as the ISA bus splits them: byte i goes to port
 *   offset + i, in order. Bytes past port 0x43 are not the PIT's: they read 0xff and their
 *   writes vanish. Port 0x43 reads 0xff: the data sheet's read of A1A0 = 11 is a no-operation
 *   (the bus floats high).
 */
import type { BusDevice, InterruptLine } from './bus-device.js';
import { monotonicNanos } from '../host/clock.js';
import type { TimerSource } from '../vmm/vcpu/timer-sources.js';
import { SharedState } from './shared-state.js';

/** The input clock of every channel: the PC's 14.31818 MHz crystal divided by 12. */
export const PIT_FREQUENCY_HZ = 1_193_182;
export const PIT_BASE_PORT = 0x40;
/** Ports 0x40-0x42 are counters 0-2 (offsets 0-2), 0x43 the control word register (offset 3). */
export const PIT_PORT_COUNT = 4;
export const PIT_CONTROL = 3;
export const PIT_CHANNEL_COUNT = 3;

/** Port 0x61, one byte: "NMI Status and Control" in Intel's ICH data sheets, port B of the PC/AT. */
export const SYSTEM_CONTROL_PORT_B = 0x61;
export const SYSTEM_CONTROL_PORT_B_WIDTH = 1;
export const PORT_B_GATE2 = 0x01; // R/W: channel 2's GATE
export const PORT_B_SPEAKER = 0x02; // R/W: speaker data enable (stored; no speaker)
const PORT_B_WRITABLE = 0x0f; // bits 3:2, the NMI enables, are stored too (no NMIs are modelled)
export const PORT_B_REFRESH = 0x10; // RO: toggles at each DRAM refresh request
export const PORT_B_OUT2 = 0x20; // RO: channel 2's OUT
// Bits 7:6 (SERR# and IOCHK# NMI sources) read 0: nothing raises them.
/** The refresh toggle's half-period: 18 PIT clocks, the interval BIOSes program channel 1 with (15.085 µs). */
export const REFRESH_TOGGLE_NS = 15_085;

// The control word (data sheet "Control Word Format"): SC1 SC0 RW1 RW0 M2 M1 M0 BCD.
const SELECT_READ_BACK = 3;
const RW_LATCH = 0; // the Counter Latch Command
const RW_LSB = 1;
const RW_MSB = 2;
const RW_LSB_MSB = 3;
// Read-Back Command bits (SC = 3): 0 selects.
const READ_BACK_NO_COUNT = 0x20;
const READ_BACK_NO_STATUS = 0x10;

const NS_PER_S = 1e9;
const BINARY_RANGE = 0x1_0000;
const BCD_RANGE = 10_000;

/** A counter's phase. */
const WAITING = 0; // for a count after a control word (or for a mode 0 count's second byte): holds
const ARMED = 1; // has a count but waits for a gate rising edge (modes 1 and 5; 2 and 3 while gated off)
const COUNTING = 2;

// The shared words. Host times and tick counts are Numbers, bit for bit in two words.
const INITIALISED = 0;
const PORT_B = 1; // port 0x61's writable bits
const EDGE_TICK = 2; // channel 0's next rising OUT edge, in its ticks since loading; Infinity when none
const NEXT_DEADLINE = 4;
/** NEXT_DEADLINE's sequence, odd while a writer changes it (a seqlock, as in hpet.ts). */
const DEADLINE_SEQUENCE = 6;
/** A statistic: channel 0 edges skipped because service came late (one interrupt for several). */
const PERIODS_COALESCED = 7;
const FIRST_CHANNEL = 8;
// Each channel's words, from its first.
const CONTROL = 0; // control word bits 5:0, as read-back status bits 5:0 report them
const PHASE = 1;
const COUNT_REGISTER = 2; // CR, as written (0 meaning the full range)
const WRITE_MSB_NEXT = 3; // the write flip-flop of RW = 3
const READ_MSB_NEXT = 4; // the read flip-flop of RW = 3
const NULL_COUNT = 5; // CR written but not yet loaded into the counting element
const HELD = 6; // the counting element's value while not counting
const LOADED = 7; // the initial count being counted (1 to 65536, or 10000 in BCD)
const LATCHED_COUNT = 8; // the latched output bytes, or -1
const LATCHED_STATUS = 9; // the latched status byte, or -1
const LOADED_AT = 10; // the host time of tick 0 (or, gated off in modes 0 and 4, of the gate's last rise)
const BASE_TICKS = 12; // ticks counted before LOADED_AT (modes 0 and 4 gated off and on again)
const RELOAD_AT = 14; // modes 2 and 3: the host time the pending count loads, else Infinity
const WORDS_PER_CHANNEL = 16;
/** The number of words a PIT's shared state holds. */
export const PIT_STATE_WORDS = FIRST_CHANNEL + WORDS_PER_CHANNEL * PIT_CHANNEL_COUNT;

/** Channel 0 periods whose interrupts coalesced into one because service came late (a statistic). */
export function pitCoalescedPeriods(state: SharedState): number {
  return state.load(PERIODS_COALESCED);
}

export interface PitOptions {
  /** The state shared with the other threads' views of this PIT (a fresh one when omitted). */
  readonly state?: SharedState;
  /** The host clock, in monotonic ns (monotonicNanos unless a test brings its own). */
  readonly now?: () => number;
  /** IRQ 0, driven by channel 0's OUT: an edge-triggered ISA line (IO APIC pin 2 on a PC). */
  readonly irq: InterruptLine;
  /** Called (outside the lock) after an access moved `nextDeadline()`, for the platform to wake its timer thread. */
  readonly onDeadlineChange: () => void;
}

export class Pit implements BusDevice, TimerSource {
  private readonly state: SharedState;
  private readonly now: () => number;
  private readonly irq: InterruptLine;
  private readonly onDeadlineChange: () => void;

  constructor(options: PitOptions) {
    this.state = options.state ?? new SharedState(PIT_STATE_WORDS);
    if (this.state.wordCount < PIT_STATE_WORDS) throw new RangeError('the PIT needs a larger shared state');
    this.now = options.now ?? monotonicNanos;
    this.irq = options.irq;
    this.onDeadlineChange = options.onDeadlineChange;
    this.state.locked(() => {
      if (this.state.get(INITIALISED) === 0) this.initialise();
    });
  }

  read(offset: number, data: Uint8Array): void {
    this.access((now) => {
      for (let i = 0; i < data.length; i++) {
        const port = offset + i;
        data[i] = port < PIT_CHANNEL_COUNT ? this.readCounter(port, now) : 0xff;
      }
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.access((now) => {
      for (let i = 0; i < data.length; i++) {
        const port = offset + i;
        const value = data[i] as number;
        if (port < PIT_CHANNEL_COUNT) this.writeCounter(port, value, now);
        else if (port === PIT_CONTROL) this.writeControl(value, now);
      }
    });
  }

  /** The host time (monotonic ns) of channel 0's next interrupt, Infinity when none is coming. Lock-free (a seqlock). */
  nextDeadline(): number {
    return this.state.readNumberWithoutLock(DEADLINE_SEQUENCE, NEXT_DEADLINE);
  }

  /** Fires channel 0's edges due by `now`; the platform timer thread calls it at the deadline. */
  service(now: number): void {
    this.state.locked(() => {
      this.advance(now);
      this.settle();
    });
  }

  /** Port 0x61 as read, for SystemControlPortB. */
  readPortB(): number {
    return this.access((now) => {
      const refresh = Math.floor(now / REFRESH_TOGGLE_NS) & 1 ? PORT_B_REFRESH : 0;
      return this.state.get(PORT_B) | refresh | (this.out(2, now) ? PORT_B_OUT2 : 0);
    });
  }

  /** A write to port 0x61, for SystemControlPortB: bit 0 is channel 2's gate. */
  writePortB(value: number): void {
    this.access((now) => {
      const gate = (value & PORT_B_GATE2) !== 0;
      if (gate !== this.gateHigh(2)) this.gateChanged(2, gate, now); // before the gate is stored: it needs the old level
      this.state.set(PORT_B, value & PORT_B_WRITABLE);
    });
  }

  /** Runs an access under the lock, at the time read there, and reports a moved deadline after. */
  private access<T>(action: (now: number) => T): T {
    let deadlineMoved = false;
    const result = this.state.locked(() => {
      const deadlineBefore = this.state.getNumber(NEXT_DEADLINE);
      const now = this.now();
      this.advance(now); // the state as the hardware would have it by now
      const result = action(now);
      this.settle();
      deadlineMoved = this.state.getNumber(NEXT_DEADLINE) !== deadlineBefore;
      return result;
    });
    if (deadlineMoved) this.onDeadlineChange();
    return result;
  }

  /**
   * A machine reset: every channel as at power-on (the initialisation below), port 0x61's bits
   * cleared, no deadline. The coalesced-period count is a statistic and survives; the
   * deadline's sequence word only ever grows (readers outside the lock follow it).
   */
  reset(): void {
    this.state.locked(() => {
      this.state.zero([DEADLINE_SEQUENCE, PERIODS_COALESCED]);
      this.initialise();
    });
    this.onDeadlineChange();
  }

  private initialise(): void {
    for (let channel = 0; channel < PIT_CHANNEL_COUNT; channel++) this.writeControl((channel << 6) | 0x36, 0);
    this.setDeadline(Infinity);
    this.state.set(INITIALISED, 1);
  }

  /** Loads the pending counts of modes 2 and 3 that were due, and fires channel 0's edges due by `now`, coalesced into one. */
  private advance(now: number): void {
    let edges = 0;
    for (let channel = 0; channel < PIT_CHANNEL_COUNT; channel++) {
      const reloadAt = this.state.getNumber(this.word(channel, RELOAD_AT));
      if (reloadAt > now) continue;
      if (channel === 0) edges += this.edgesDue(reloadAt); // the old period's last edge
      this.load(channel, reloadAt);
    }
    edges += this.edgesDue(now);
    if (edges === 0) return;
    this.state.add(PERIODS_COALESCED, edges - 1);
    this.irq.setLevel(true);
    this.irq.setLevel(false);
  }

  /** How many of channel 0's rising edges have come by `at`, moving EDGE_TICK past them. */
  private edgesDue(at: number): number {
    const edge = this.state.getNumber(EDGE_TICK);
    const ticks = this.ticksAt(0, at);
    if (ticks < edge) return 0;
    if (!isPeriodic(this.mode(0))) {
      this.state.setNumber(EDGE_TICK, Infinity);
      return 1;
    }
    const period = this.get(0, LOADED);
    const edges = Math.floor((ticks - edge) / period) + 1;
    this.state.setNumber(EDGE_TICK, edge + edges * period);
    return edges;
  }

  /** The deadline follows channel 0's next edge (channel 0 is never gated off: ticks run from LOADED_AT). */
  private settle(): void {
    const edge = this.state.getNumber(EDGE_TICK);
    const at = edge === Infinity ? Infinity : this.timeOfTick(0, edge);
    if (at !== this.state.getNumber(NEXT_DEADLINE)) this.setDeadline(at);
  }

  private setDeadline(deadline: number): void {
    this.state.publishNumber(DEADLINE_SEQUENCE, NEXT_DEADLINE, deadline);
  }

  /**
   * "Control Word Format", "Read-Back Command". A new mode stops the counter until a count
   * is written and sets OUT to the mode's initial level: low in mode 0, high in the others.
   */
  private writeControl(value: number, now: number): void {
    const channel = value >> 6;
    if (channel === SELECT_READ_BACK) {
      for (let selected = 0; selected < PIT_CHANNEL_COUNT; selected++) {
        if (!(value & (2 << selected))) continue;
        if (!(value & READ_BACK_NO_COUNT)) this.latchCount(selected, now);
        if (!(value & READ_BACK_NO_STATUS)) this.latchStatus(selected, now);
      }
      return;
    }
    if (((value >> 4) & 3) === RW_LATCH) {
      this.latchCount(channel, now);
      return;
    }
    this.hold(channel, now);
    this.set(channel, CONTROL, value & 0x3f);
    this.set(channel, NULL_COUNT, 1);
    this.set(channel, WRITE_MSB_NEXT, 0);
    this.set(channel, READ_MSB_NEXT, 0);
    this.set(channel, LATCHED_COUNT, -1);
    this.set(channel, LATCHED_STATUS, -1);
  }

  /** "Counter Latch Command": a second latch before the first is read is ignored. */
  private latchCount(channel: number, now: number): void {
    if (this.get(channel, LATCHED_COUNT) < 0) this.set(channel, LATCHED_COUNT, this.outputValue(channel, now));
  }

  /** "Read-Back Command", status byte: OUTPUT, NULL COUNT, RW1 RW0 M2 M1 M0 BCD. A second latch is ignored. */
  private latchStatus(channel: number, now: number): void {
    if (this.get(channel, LATCHED_STATUS) >= 0) return;
    const status = (this.out(channel, now) ? 0x80 : 0) | (this.get(channel, NULL_COUNT) << 6) | this.get(channel, CONTROL);
    this.set(channel, LATCHED_STATUS, status);
  }

  /**
   * "Read Operations": a latched status first, then a latched count (kept until all its bytes
   * are read), else the count now. RW = 3 reads LSB then MSB, by the read flip-flop.
   */
  private readCounter(channel: number, now: number): number {
    const status = this.get(channel, LATCHED_STATUS);
    if (status >= 0) {
      this.set(channel, LATCHED_STATUS, -1);
      return status;
    }
    const latched = this.get(channel, LATCHED_COUNT);
    const value = latched >= 0 ? latched : this.outputValue(channel, now);
    let msb = this.rw(channel) === RW_MSB;
    if (this.rw(channel) === RW_LSB_MSB) {
      msb = this.get(channel, READ_MSB_NEXT) === 1;
      this.set(channel, READ_MSB_NEXT, msb ? 0 : 1);
      if (!msb) return value & 0xff; // the latch stays for the MSB
    }
    this.set(channel, LATCHED_COUNT, -1);
    return msb ? value >> 8 : value & 0xff;
  }

  /**
   * "Write Operations": RW = 1 writes the LSB (MSB 0), RW = 2 the MSB (LSB 0), RW = 3 the LSB
   * then the MSB, by the write flip-flop. In mode 0 a two-byte count's first byte stops
   * counting and sets OUT low ("Mode 0").
   */
  private writeCounter(channel: number, value: number, now: number): void {
    const register = this.get(channel, COUNT_REGISTER);
    switch (this.rw(channel)) {
      case RW_LSB:
        this.set(channel, COUNT_REGISTER, value);
        break;
      case RW_MSB:
        this.set(channel, COUNT_REGISTER, value << 8);
        break;
      default:
        if (this.get(channel, WRITE_MSB_NEXT) === 0) {
          this.set(channel, COUNT_REGISTER, (register & 0xff00) | value);
          this.set(channel, WRITE_MSB_NEXT, 1);
          if (this.mode(channel) === 0) this.hold(channel, now);
          return;
        }
        this.set(channel, COUNT_REGISTER, (register & 0xff) | (value << 8));
        this.set(channel, WRITE_MSB_NEXT, 0);
    }
    this.countWritten(channel, now);
  }

  /** Where a new count takes effect, mode by mode ("Mode Definitions"). */
  private countWritten(channel: number, now: number): void {
    this.set(channel, NULL_COUNT, 1);
    const phase = this.get(channel, PHASE);
    switch (this.mode(channel)) {
      case 0:
      case 4:
        this.load(channel, now); // loaded and counting; a low gate holds it at the initial count
        return;
      case 2:
      case 3:
        if (phase === COUNTING) {
          // The current period runs out first.
          const period = this.get(channel, LOADED);
          const boundary = (Math.floor(this.ticksAt(channel, now) / period) + 1) * period;
          this.state.setNumber(this.word(channel, RELOAD_AT), this.timeOfTick(channel, boundary));
        } else if (phase === WAITING && this.gateHigh(channel)) {
          this.load(channel, now);
        } else if (phase === WAITING) {
          // Loaded, then held by the low gate until it rises.
          this.set(channel, HELD, this.initialCount(channel));
          this.set(channel, NULL_COUNT, 0);
          this.set(channel, PHASE, ARMED);
        }
        return; // ARMED: the gate's rising edge loads it
      default: // modes 1 and 5: a gate rising edge triggers the count
        if (phase === WAITING) this.set(channel, PHASE, ARMED);
    }
  }

  /**
   * GATE ("Gate", Figure "GATE Pin Operations Summary"). Modes 0 and 4: low holds the count,
   * high resumes it. Modes 2 and 3: low stops counting with OUT high, a rising edge reloads.
   * Modes 1 and 5: a rising edge (re)triggers. Called before the new level is stored.
   */
  private gateChanged(channel: number, high: boolean, now: number): void {
    const mode = this.mode(channel);
    const phase = this.get(channel, PHASE);
    if (mode === 0 || mode === 4) {
      if (phase !== COUNTING) return;
      if (high) this.state.setNumber(this.word(channel, LOADED_AT), now);
      else this.state.setNumber(this.word(channel, BASE_TICKS), this.ticksAt(channel, now));
    } else if (high) {
      if (phase !== WAITING) this.load(channel, now);
    } else if ((mode === 2 || mode === 3) && phase === COUNTING) {
      this.hold(channel, now);
      this.set(channel, PHASE, ARMED);
    }
  }

  /** Loads CR into the counting element at `at`: tick 0 of a count. */
  private load(channel: number, at: number): void {
    const count = this.initialCount(channel);
    this.set(channel, LOADED, count);
    this.set(channel, NULL_COUNT, 0);
    this.set(channel, PHASE, COUNTING);
    this.state.setNumber(this.word(channel, LOADED_AT), at);
    this.state.setNumber(this.word(channel, BASE_TICKS), 0);
    this.state.setNumber(this.word(channel, RELOAD_AT), Infinity);
    if (channel === 0) this.state.setNumber(EDGE_TICK, firstEdge(this.mode(0), count));
  }

  /** Stops counting: the counting element keeps its value now, and OUT goes to the mode's resting level. */
  private hold(channel: number, now: number): void {
    this.set(channel, HELD, this.countingElement(channel, now));
    this.set(channel, PHASE, WAITING);
    this.state.setNumber(this.word(channel, RELOAD_AT), Infinity);
    if (channel === 0) this.state.setNumber(EDGE_TICK, Infinity);
  }

  /** CR as a count: 0 is the full range (65536, or 10000 in BCD). */
  private initialCount(channel: number): number {
    const register = this.get(channel, COUNT_REGISTER);
    if (!this.bcd(channel)) return register === 0 ? BINARY_RANGE : register;
    if (register === 0) return BCD_RANGE;
    return ((register >> 12) & 0xf) * 1000 + ((register >> 8) & 0xf) * 100 + ((register >> 4) & 0xf) * 10 + (register & 0xf);
  }

  /**
   * The counting element's value ("Mode Definitions"). Modes 0, 1, 4 and 5 count down by one
   * and wrap on past terminal count; mode 2 counts N down to 1 and reloads; mode 3 counts down
   * by two, twice a period, an odd N taking one off on its first clock of the high half and
   * three on its first of the low half.
   */
  private countingElement(channel: number, now: number): number {
    if (this.get(channel, PHASE) !== COUNTING) return this.get(channel, HELD);
    const count = this.get(channel, LOADED);
    const ticks = this.ticksAt(channel, now);
    const range = this.bcd(channel) ? BCD_RANGE : BINARY_RANGE;
    switch (this.mode(channel)) {
      case 2:
        return count - (ticks % count);
      case 3: {
        const phase = ticks % count;
        const high = Math.ceil(count / 2);
        if (count % 2 === 0) return count - 2 * (phase < high ? phase : phase - high);
        if (phase === 0 || phase === high) return count;
        return phase < high ? count + 1 - 2 * phase : count - 1 - 2 * (phase - high);
      }
      default:
        return (((count - ticks) % range) + range) % range;
    }
  }

  /** The count as the counter's output latch shows it: 16 bits, or four BCD digits. */
  private outputValue(channel: number, now: number): number {
    const value = this.countingElement(channel, now);
    if (!this.bcd(channel)) return value & 0xffff;
    let bcd = 0;
    for (let digit = 0, rest = value % BCD_RANGE; digit < 4; digit++, rest = Math.floor(rest / 10)) bcd |= (rest % 10) << (4 * digit);
    return bcd;
  }

  /** OUT ("Mode Definitions"); a counter not counting rests low in mode 0, high in the others. */
  private out(channel: number, now: number): boolean {
    const mode = this.mode(channel);
    if (this.get(channel, PHASE) !== COUNTING) return mode !== 0;
    const count = this.get(channel, LOADED);
    const ticks = this.ticksAt(channel, now);
    switch (mode) {
      case 0: // low until terminal count, then high
      case 1: // low from the trigger until terminal count
        return ticks >= count;
      case 2: // low for the one clock at count 1, each period
        return count < 2 || ticks % count !== count - 1;
      case 3: // high for ceil(N/2) clocks, low for floor(N/2)
        return ticks % count < Math.ceil(count / 2);
      default: // modes 4 and 5: low for the one clock at terminal count
        return ticks !== count;
    }
  }

  /** Input clocks counted by `at` since tick 0 (exact: whole seconds and the rest apart, to stay within 2^53). */
  private ticksAt(channel: number, at: number): number {
    const base = this.state.getNumber(this.word(channel, BASE_TICKS));
    const mode = this.mode(channel);
    if ((mode === 0 || mode === 4) && !this.gateHigh(channel)) return base;
    const elapsed = Math.max(0, Math.floor(at - this.state.getNumber(this.word(channel, LOADED_AT))));
    const seconds = Math.floor(elapsed / NS_PER_S);
    return base + seconds * PIT_FREQUENCY_HZ + Math.floor(((elapsed - seconds * NS_PER_S) * PIT_FREQUENCY_HZ) / NS_PER_S);
  }

  /** The first host time at which a counting (gated on) channel has counted `tick` clocks. */
  private timeOfTick(channel: number, tick: number): number {
    const ticks = tick - this.state.getNumber(this.word(channel, BASE_TICKS));
    const seconds = Math.floor(ticks / PIT_FREQUENCY_HZ);
    const rest = Math.ceil(((ticks - seconds * PIT_FREQUENCY_HZ) * NS_PER_S) / PIT_FREQUENCY_HZ);
    return this.state.getNumber(this.word(channel, LOADED_AT)) + seconds * NS_PER_S + rest;
  }

  private gateHigh(channel: number): boolean {
    return channel !== 2 || (this.state.get(PORT_B) & PORT_B_GATE2) !== 0;
  }

  /** M2 M1 M0, with modes 6 and 7 the aliases of 2 and 3 (M2 is "don't care" there). */
  private mode(channel: number): number {
    const mode = (this.get(channel, CONTROL) >> 1) & 7;
    return mode > 5 ? mode - 4 : mode;
  }

  private rw(channel: number): number {
    return (this.get(channel, CONTROL) >> 4) & 3;
  }

  private bcd(channel: number): boolean {
    return (this.get(channel, CONTROL) & 1) !== 0;
  }

  private word(channel: number, field: number): number {
    return FIRST_CHANNEL + WORDS_PER_CHANNEL * channel + field;
  }

  private get(channel: number, field: number): number {
    return this.state.get(this.word(channel, field));
  }

  private set(channel: number, field: number, value: number): void {
    this.state.set(this.word(channel, field), value);
  }
}

/** Port 0x61 (one byte, SYSTEM_CONTROL_PORT_B): the PIT's channel 2 gate and OUT, and the refresh toggle. */
export class SystemControlPortB implements BusDevice {
  constructor(private readonly pit: Pit) {}

  read(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) data[i] = offset + i === 0 ? this.pit.readPortB() : 0xff;
  }

  write(offset: number, data: Uint8Array): void {
    for (let i = 0; i < data.length; i++) if (offset + i === 0) this.pit.writePortB(data[i] as number);
  }
}

/** Modes 2 and 3 repeat: OUT rises once a period. */
function isPeriodic(mode: number): boolean {
  return mode === 2 || mode === 3;
}

/** The tick of a fresh count's first rising OUT edge: terminal count, the end of a strobe, or the end of the first period. */
function firstEdge(mode: number, count: number): number {
  if (mode === 4 || mode === 5) return count + 1;
  if (isPeriodic(mode) && count < 2) return Infinity;
  return count;
}
