/** The HPET model, register by register (IA-PC HPET Specification 1.0a), on a fake clock. */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import * as hpet from '../../src/devices/hpet.js';
import { SharedState } from '../../src/devices/shared-state.js';

class RecordingLine {
  level = false;
  readonly changes: boolean[] = [];
  setLevel(asserted: boolean): void {
    this.level = asserted;
    this.changes.push(asserted);
  }
  /** Rising edges seen: pulses, and level assertions. */
  get rises(): number {
    return this.changes.filter((asserted) => asserted).length;
  }
}

const MS = 1_000_000; // ns
const START = 5_000 * MS; // the fake clock does not start at 0, as the host's does not
const ALL_ONES = 0xffff_ffff_ffff_ffffn;
const COUNTER = hpet.HPET_MAIN_COUNTER;
const CONF0 = hpet.hpetTimerConfiguration(0);
const CONF1 = hpet.hpetTimerConfiguration(1);
const CONF2 = hpet.hpetTimerConfiguration(2);
const CMP0 = hpet.hpetTimerComparator(0);
const CMP1 = hpet.hpetTimerComparator(1);
const CMP2 = hpet.hpetTimerComparator(2);
const route = (pin: number) => BigInt(pin << hpet.TN_INT_ROUTE_CNF_SHIFT);
const EDGE_ON_20 = BigInt(hpet.TN_INT_ENB_CNF) | route(20);
const LEVEL_ON_21 = BigInt(hpet.TN_INT_ENB_CNF | hpet.TN_INT_TYPE_CNF) | route(21);
const PERIODIC = BigInt(hpet.TN_TYPE_CNF);
const VAL_SET = BigInt(hpet.TN_VAL_SET_CNF);
const MODE_32 = BigInt(hpet.TN_32MODE_CNF);
const ENABLE = BigInt(hpet.ENABLE_CNF);
const LEGACY = BigInt(hpet.LEG_RT_CNF);

/** The first host time, after the counter started at `startedAt` from `from`, at which it reads `ticks`. */
const timeOfTicks = (ticks: bigint, startedAt = START, from = 0n) =>
  startedAt + Number(((ticks - from) * BigInt(hpet.HPET_PERIOD_FS) + 999_999n) / 1_000_000n);

let time: number;
let lines: Map<number, RecordingLine>;
let deadlineChanges: number;
let device: hpet.Hpet;

function line(pin: number): RecordingLine {
  let recording = lines.get(pin);
  if (!recording) {
    recording = new RecordingLine();
    lines.set(pin, recording);
  }
  return recording;
}

function makeHpet(state?: SharedState): hpet.Hpet {
  return new hpet.Hpet({
    ...(state ? { state } : {}),
    now: () => time,
    irqLine: line,
    onDeadlineChange: () => deadlineChanges++,
  });
}

beforeEach(() => {
  time = START;
  lines = new Map();
  deadlineChanges = 0;
  device = makeHpet();
});

function read64(offset: number, view = device): bigint {
  const data = new Uint8Array(8);
  view.read(offset, data);
  return new DataView(data.buffer).getBigUint64(0, true);
}

function read32(offset: number, view = device): number {
  const data = new Uint8Array(4);
  view.read(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}

function write64(offset: number, value: bigint, view = device): void {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setBigUint64(0, value, true);
  view.write(offset, data);
}

function write32(offset: number, value: number, view = device): void {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value, true);
  view.write(offset, data);
}

/** Halted at `counter`, then started at the current time. */
function startCounterAt(counter: bigint, configuration = ENABLE): void {
  write64(hpet.HPET_CONFIGURATION, 0n);
  write64(COUNTER, counter);
  write64(hpet.HPET_CONFIGURATION, configuration);
}

/** Moves the fake clock to `at` and runs vCPU 0's service there. */
function serviceAt(at: number): void {
  time = at;
  device.serviceTimers(at);
}

describe('reset state (3.1)', () => {
  it('has the counter halted at 0, comparators all ones, nothing enabled, no deadline', () => {
    expect(read64(hpet.HPET_CONFIGURATION)).toBe(0n);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(0n);
    expect(read64(COUNTER)).toBe(0n);
    for (const comparator of [CMP0, CMP1, CMP2]) expect(read64(comparator)).toBe(ALL_ONES);
    for (const configuration of [CONF0, CONF1, CONF2]) expect(read32(configuration)).toBe(hpet.TN_PER_INT_CAP | hpet.TN_SIZE_CAP);
    expect(device.nextDeadline()).toBe(Infinity);
  });

  it('reads 0 in reserved registers, unimplemented timers and past the 1 KiB block', () => {
    for (const offset of [0x008, 0x018, 0x028, 0x0e8, 0x0f8, hpet.hpetTimerFsbRoute(0), 0x118, 0x160, 0x3f8, 0x400, 0xff8]) {
      expect(read64(offset)).toBe(0n);
    }
  });
});

describe('General Capabilities and ID (2.3.4)', () => {
  it('reports rev 1, three timers, a 64-bit counter, legacy replacement, Intel, and the 14.31818 MHz period', () => {
    const capabilities = read64(hpet.HPET_CAPABILITIES);
    expect(capabilities & 0xffn).toBe(1n);
    expect((capabilities >> 8n) & 0x1fn).toBe(2n);
    expect(capabilities & BigInt(hpet.COUNT_SIZE_CAP)).not.toBe(0n);
    expect(capabilities & BigInt(hpet.LEG_RT_CAP)).not.toBe(0n);
    expect((capabilities >> 16n) & 0xffffn).toBe(0x8086n);
    expect(capabilities >> 32n).toBe(69_841_279n);
    expect(hpet.HPET_PERIOD_FS).toBe(Math.round(1e15 / 14_318_180));
  });

  it('reads the same in 32-bit halves and byte by byte, and ignores writes', () => {
    const capabilities = read64(hpet.HPET_CAPABILITIES);
    expect(BigInt(read32(hpet.HPET_CAPABILITIES + 4)) << 32n | BigInt(read32(hpet.HPET_CAPABILITIES))).toBe(capabilities);
    const byte = new Uint8Array(1);
    device.read(hpet.HPET_CAPABILITIES + 5, byte);
    expect(byte[0]).toBe(Number((capabilities >> 40n) & 0xffn));
    write64(hpet.HPET_CAPABILITIES, 0n);
    expect(read64(hpet.HPET_CAPABILITIES)).toBe(capabilities);
  });
});

describe('General Configuration (2.3.5)', () => {
  it('keeps ENABLE_CNF and LEG_RT_CNF; reserved bits read 0', () => {
    write64(hpet.HPET_CONFIGURATION, ALL_ONES);
    expect(read64(hpet.HPET_CONFIGURATION)).toBe(ENABLE | LEGACY);
    write32(hpet.HPET_CONFIGURATION, Number(LEGACY));
    expect(read64(hpet.HPET_CONFIGURATION)).toBe(LEGACY);
  });
});

describe('Main Counter (2.3.7)', () => {
  it('stays put while halted and is writable then, as 64 bits or as halves', () => {
    write64(COUNTER, 0x1_2345_6789n);
    time += 2 * MS;
    expect(read64(COUNTER)).toBe(0x1_2345_6789n);
    write32(COUNTER, 0xffff_f000);
    write32(COUNTER + 4, 0);
    expect(read64(COUNTER)).toBe(0xffff_f000n);
  });

  it('counts 14318 in 1 ms while enabled, and halts where it got to', () => {
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    time += 1 * MS;
    expect(read64(COUNTER)).toBe(14_318n);
    time += 9 * MS;
    expect(read64(COUNTER)).toBe(143_181n);
    write64(hpet.HPET_CONFIGURATION, 0n);
    time += 50 * MS;
    expect(read64(COUNTER)).toBe(143_181n);
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    time += 1 * MS;
    expect(read64(COUNTER)).toBe(143_181n + 14_318n);
  });

  it('agrees between 32-bit halves and 64-bit reads across the carry into bit 32', () => {
    startCounterAt(0xffff_f000n);
    time += 1 * MS;
    const counter = read64(COUNTER);
    expect(counter).toBe(0xffff_f000n + 14_318n);
    expect(read32(COUNTER + 4)).toBe(1);
    expect(read32(COUNTER)).toBe(Number(counter & 0xffff_ffffn));
  });

  it('takes a write while running and counts on from it', () => {
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    time += 3 * MS;
    write64(COUNTER, 1_000_000n);
    expect(read64(COUNTER)).toBe(1_000_000n);
    time += 1 * MS;
    expect(read64(COUNTER)).toBe(1_014_318n);
  });

  it('wraps through 0 after 2^64 - 1', () => {
    startCounterAt(ALL_ONES - 10n);
    time += 1 * MS;
    expect(read64(COUNTER)).toBe(14_318n - 11n);
  });
});

describe('Timer N Configuration and Capabilities (2.3.8)', () => {
  it('keeps the writable bits, and keeps the read-only ones whatever is written', () => {
    write64(CONF2, ALL_ONES & ~BigInt(hpet.TN_INT_ROUTE_CNF_MASK) | route(22));
    const expected =
      hpet.TN_INT_TYPE_CNF | hpet.TN_INT_ENB_CNF | hpet.TN_TYPE_CNF | hpet.TN_PER_INT_CAP | hpet.TN_SIZE_CAP |
      hpet.TN_VAL_SET_CNF | hpet.TN_32MODE_CNF | (22 << hpet.TN_INT_ROUTE_CNF_SHIFT);
    expect(read32(CONF2)).toBe(expected);
    expect(read32(CONF2) & (hpet.TN_FSB_EN_CNF | hpet.TN_FSB_INT_DEL_CAP)).toBe(0);
    write64(CONF2, 0n);
    expect(read32(CONF2)).toBe(hpet.TN_PER_INT_CAP | hpet.TN_SIZE_CAP | (22 << hpet.TN_INT_ROUTE_CNF_SHIFT));
  });

  it('reports the route capability, pins 20 to 23, read-only in bits 63:32', () => {
    expect(hpet.HPET_ROUTE_CAP).toBe(0xf0_0000);
    for (const configuration of [CONF0, CONF1, CONF2]) {
      expect(read32(configuration + 4)).toBe(hpet.HPET_ROUTE_CAP);
      write32(configuration + 4, 0xffff_ffff);
      expect(read32(configuration + 4)).toBe(hpet.HPET_ROUTE_CAP);
    }
  });

  it('does not take a route outside the capability: the field keeps what it held', () => {
    write64(CONF0, route(21));
    write64(CONF0, route(5));
    expect((read32(CONF0) & hpet.TN_INT_ROUTE_CNF_MASK) >> hpet.TN_INT_ROUTE_CNF_SHIFT).toBe(21);
    write64(CONF0, route(23));
    expect((read32(CONF0) & hpet.TN_INT_ROUTE_CNF_MASK) >> hpet.TN_INT_ROUTE_CNF_SHIFT).toBe(23);
  });
});

describe('one-shot timers (2.3.9.2.1)', () => {
  it('fire once, when the counter reaches the comparator, and not before', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 14_318n);
    const due = timeOfTicks(14_318n);
    expect(device.nextDeadline()).toBe(due);
    expect(due).toBeGreaterThan(START + 999_980);
    expect(due).toBeLessThanOrEqual(START + MS);

    serviceAt(due - 1);
    expect(line(20).changes).toEqual([]);
    serviceAt(due);
    expect(line(20).changes).toEqual([true, false]);
    expect(device.nextDeadline()).toBe(Infinity);
    serviceAt(due + 1_000 * MS);
    expect(line(20).changes).toEqual([true, false]);
    expect(read64(CMP2)).toBe(14_318n); // 2.3.9.2.1: the hardware does not change it
  });

  it('fire again once reprogrammed', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    write64(CMP2, 300n);
    serviceAt(timeOfTicks(300n));
    expect(line(20).rises).toBe(2);
  });

  it('fire at once for a comparator written at or behind the counter', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    time += 1 * MS;
    write64(CMP2, 10n);
    expect(line(20).rises).toBe(1);
    expect(device.nextDeadline()).toBe(Infinity);
  });

  it('match afresh after a counter write: the counter reaches the comparator again', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    startCounterAt(0n);
    const restartedAt = time;
    expect(device.nextDeadline()).toBe(timeOfTicks(100n, restartedAt));
    serviceAt(device.nextDeadline());
    expect(line(20).rises).toBe(2);
  });

  it('keep a pending match through a halt, firing after the remaining ticks once restarted', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 1_000n);
    time = timeOfTicks(400n);
    write64(hpet.HPET_CONFIGURATION, 0n);
    expect(device.nextDeadline()).toBe(Infinity);
    serviceAt(time + 1_000 * MS);
    expect(line(20).rises).toBe(0);
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    const restartedAt = time;
    expect(device.nextDeadline()).toBe(timeOfTicks(1_000n, restartedAt, 400n));
    serviceAt(device.nextDeadline());
    expect(line(20).rises).toBe(1);
  });

  it('are seen by a register read when due, before vCPU 0 services them', () => {
    startCounterAt(0n);
    write64(CONF2, BigInt(hpet.TN_INT_TYPE_CNF) | route(21)); // level, interrupt disabled: no deadline
    write64(CMP2, 500n);
    expect(device.nextDeadline()).toBe(Infinity);
    time = timeOfTicks(500n) - 1;
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(0n);
    time += 1;
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(4n);
    expect(line(21).changes).toEqual([]);
  });
});

describe('periodic timers (2.3.9.2.2)', () => {
  /** The usage model of 2.3.9.2.2 with Linux's second write: halted, counter 0, Tn_VAL_SET_CNF, first match, then period. */
  function programPeriodic(first: bigint, period: bigint, configuration = EDGE_ON_20): void {
    write64(hpet.HPET_CONFIGURATION, 0n);
    write64(COUNTER, 0n);
    write64(CONF2, configuration | PERIODIC | VAL_SET);
    write64(CMP2, first);
    write64(CMP2, period);
    write64(hpet.HPET_CONFIGURATION, ENABLE);
  }

  it('set the comparator with Tn_VAL_SET_CNF, which clears itself, and the period with the next write', () => {
    programPeriodic(1_000n, 400n);
    expect(read32(CONF2) & hpet.TN_VAL_SET_CNF).toBe(0);
    expect(read64(CMP2)).toBe(1_000n);
    expect(device.nextDeadline()).toBe(timeOfTicks(1_000n));
    for (const match of [1_000n, 1_400n, 1_800n, 2_200n]) {
      expect(device.nextDeadline()).toBe(timeOfTicks(match));
      serviceAt(timeOfTicks(match) - 1);
      serviceAt(timeOfTicks(match));
      expect(read64(CMP2)).toBe(match + 400n);
    }
    expect(line(20).rises).toBe(4);
  });

  it('take one Tn_VAL_SET_CNF write as both the comparator and the period', () => {
    write64(CONF2, EDGE_ON_20 | PERIODIC | VAL_SET);
    write64(CMP2, 700n);
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    serviceAt(timeOfTicks(700n));
    expect(read64(CMP2)).toBe(1_400n);
    serviceAt(timeOfTicks(1_400n));
    expect(line(20).rises).toBe(2);
  });

  it('take a write without Tn_VAL_SET_CNF as the new period, added at the next match (2.4.3.2)', () => {
    programPeriodic(1_000n, 1_000n);
    write64(CMP2, 250n);
    expect(read64(CMP2)).toBe(1_000n);
    serviceAt(timeOfTicks(1_000n));
    expect(read64(CMP2)).toBe(1_250n);
  });

  it('fire once when serviced several periods late, the comparator moved past the counter', () => {
    programPeriodic(1_000n, 1_000n);
    serviceAt(timeOfTicks(10_500n));
    expect(line(20).changes).toEqual([true, false]);
    expect(read64(CMP2)).toBe(11_000n);
    expect(device.nextDeadline()).toBe(timeOfTicks(11_000n));
    serviceAt(timeOfTicks(11_000n));
    expect(line(20).rises).toBe(2);
  });

  it('count the periods that coalesced into one interrupt, per timer, for the statistics', () => {
    const state = new SharedState(hpet.HPET_STATE_WORDS);
    device = makeHpet(state);
    programPeriodic(1_000n, 1_000n);
    serviceAt(timeOfTicks(1_000n)); // on time
    expect(hpet.hpetPeriodsCoalesced(state, 2)).toBe(0);
    serviceAt(timeOfTicks(10_500n)); // the matches at 2000 ... 10000: one fire, 8 coalesced
    expect(hpet.hpetPeriodsCoalesced(state, 2)).toBe(8);
    expect([0, 1].map((timer) => hpet.hpetPeriodsCoalesced(state, timer))).toEqual([0, 0]);
  });

  it('hold the next tick in the comparator when read, even before vCPU 0 services them', () => {
    programPeriodic(1_000n, 1_000n);
    time = timeOfTicks(5_200n);
    expect(read64(CMP2)).toBe(6_000n);
    expect(line(20).rises).toBe(1);
  });

  it('stop advancing with a period of 0', () => {
    programPeriodic(1_000n, 0n);
    serviceAt(timeOfTicks(1_000n));
    expect(read64(CMP2)).toBe(1_000n);
    expect(device.nextDeadline()).toBe(Infinity);
  });
});

describe('32-bit mode (Tn_32MODE_CNF, 2.3.8 and 2.4.7)', () => {
  it('cuts the comparator to 32 bits and ignores its upper half', () => {
    write64(CONF2, EDGE_ON_20 | MODE_32);
    expect(read64(CMP2)).toBe(0xffff_ffffn);
    write64(CMP2, 0x5_0000_0123n);
    expect(read64(CMP2)).toBe(0x123n);
    write32(CMP2 + 4, 7);
    expect(read64(CMP2)).toBe(0x123n);
  });

  it('compares the low 32 bits, matching across the counter wrap, not at once', () => {
    startCounterAt(0x2_ffff_ff00n);
    write64(CONF2, EDGE_ON_20 | MODE_32);
    write64(CMP2, 0x100n);
    expect(line(20).rises).toBe(0);
    expect(device.nextDeadline()).toBe(timeOfTicks(0x200n));
    serviceAt(timeOfTicks(0x200n));
    expect(line(20).rises).toBe(1);
    expect(read64(COUNTER)).toBe(0x3_0000_0100n);
  });

  it('waits for the wrap when a mode change leaves the comparator just behind the counter', () => {
    startCounterAt(0x1000n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 0x2000n);
    time = timeOfTicks(0x1000n); // the counter at 0x2000: due, fired
    write64(CMP2, 0x2001n);
    time = timeOfTicks(0x1008n); // the counter at 0x2008, past the comparator
    write64(CONF2, EDGE_ON_20 | MODE_32);
    expect(line(20).rises).toBe(2);
    expect(device.nextDeadline()).toBe(timeOfTicks(0x2001n + 0x1_0000_0000n, START, 0x1000n));
  });

  it('fires at once for a comparator written less than half the 32-bit range behind the counter', () => {
    startCounterAt(0x7_0000_1000n);
    write64(CONF2, EDGE_ON_20 | MODE_32);
    write64(CMP2, 0xff0n);
    expect(line(20).rises).toBe(1);
    expect(device.nextDeadline()).toBe(Infinity);
  });

  it('wraps a periodic comparator through 0 (the example of 2.3.9.1)', () => {
    write64(CONF2, EDGE_ON_20 | MODE_32 | PERIODIC | VAL_SET);
    write64(CMP2, 0xffff_0000n);
    write64(CMP2, 0x20000n);
    startCounterAt(0xffff_0000n - 10n);
    serviceAt(timeOfTicks(10n));
    expect(read64(CMP2)).toBe(0x0001_0000n);
    expect(device.nextDeadline()).toBe(timeOfTicks(10n + 0x20000n));
  });
});

describe('interrupt delivery', () => {
  it('pulses an edge-triggered timer\'s line and leaves its status bit alone', () => {
    startCounterAt(0n);
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    expect(line(20).changes).toEqual([true, false]);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(0n);
  });

  it('holds a level-triggered line with its status bit until software writes 1 to the bit (2.3.6)', () => {
    startCounterAt(0n);
    write64(CONF2, LEVEL_ON_21 | PERIODIC | VAL_SET);
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    expect(line(21).changes).toEqual([true]);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(4n);
    serviceAt(timeOfTicks(200n)); // another match while active: it stays active
    expect(line(21).changes).toEqual([true]);
    write64(hpet.HPET_INTERRUPT_STATUS, 3n); // 0 in bit 2 has no effect
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(4n);
    write64(hpet.HPET_INTERRUPT_STATUS, 4n);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(0n);
    expect(line(21).changes).toEqual([true, false]);
    serviceAt(timeOfTicks(300n));
    expect(line(21).changes).toEqual([true, false, true]);
  });

  it('sets a level-triggered status bit with the interrupt disabled, and asserts once it is enabled', () => {
    startCounterAt(0n);
    write64(CONF2, LEVEL_ON_21 & ~BigInt(hpet.TN_INT_ENB_CNF));
    write64(CMP2, 100n);
    time = timeOfTicks(100n);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(4n);
    expect(line(21).changes).toEqual([]);
    write64(CONF2, LEVEL_ON_21);
    expect(line(21).changes).toEqual([true]);
  });

  it('drops level lines while ENABLE_CNF is clear (2.3.5), keeping the status', () => {
    startCounterAt(0n);
    write64(CONF2, LEVEL_ON_21);
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    write64(hpet.HPET_CONFIGURATION, 0n);
    expect(line(21).changes).toEqual([true, false]);
    expect(read64(hpet.HPET_INTERRUPT_STATUS)).toBe(4n);
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    expect(line(21).changes).toEqual([true, false, true]);
  });

  it('shows no edge on a line a level-triggered timer holds high', () => {
    startCounterAt(0n);
    write64(CONF1, LEVEL_ON_21);
    write64(CMP1, 100n);
    write64(CONF2, BigInt(hpet.TN_INT_ENB_CNF) | route(21));
    write64(CMP2, 200n);
    serviceAt(timeOfTicks(200n));
    expect(line(21).changes).toEqual([true]);
  });

  it('sends nothing from a timer whose interrupt is disabled or that has no route', () => {
    startCounterAt(0n);
    write64(CONF1, 0n | route(20)); // edge, interrupt disabled
    write64(CMP1, 100n);
    write64(CONF2, BigInt(hpet.TN_INT_ENB_CNF)); // route 0: outside the capability
    write64(CMP2, 100n);
    serviceAt(timeOfTicks(100n));
    expect([...lines.values()].flatMap((recording) => recording.changes)).toEqual([]);
  });

  it('routes timer 0 to pin 2 and timer 1 to pin 8 under legacy replacement, timer 2 by its own route (2.4.2.1)', () => {
    for (const conf of [CONF0, CONF1, CONF2]) write64(conf, EDGE_ON_20);
    write64(CMP0, 100n);
    write64(CMP1, 200n);
    write64(CMP2, 300n);
    startCounterAt(0n, ENABLE | LEGACY);
    serviceAt(timeOfTicks(300n));
    expect(line(2).changes).toEqual([true, false]);
    expect(line(8).changes).toEqual([true, false]);
    expect(line(20).changes).toEqual([true, false]);
  });

  it('routes timers 0 and 1 by their own routes without legacy replacement', () => {
    write64(CONF0, EDGE_ON_20);
    write64(CONF1, BigInt(hpet.TN_INT_ENB_CNF) | route(23));
    write64(CMP0, 100n);
    write64(CMP1, 100n);
    startCounterAt(0n);
    serviceAt(timeOfTicks(100n));
    expect(line(20).rises).toBe(1);
    expect(line(23).rises).toBe(1);
    expect(lines.has(2) || lines.has(8)).toBe(false);
  });
});

describe('nextDeadline and onDeadlineChange', () => {
  it('reports a write that moves the deadline, and not one that leaves it', () => {
    write64(CONF2, EDGE_ON_20);
    write64(CMP2, 1_000n);
    expect(deadlineChanges).toBe(0); // halted: no deadline yet
    write64(hpet.HPET_CONFIGURATION, ENABLE);
    expect(deadlineChanges).toBe(1);
    write64(CMP2, 2_000n);
    expect(deadlineChanges).toBe(2);
    write64(hpet.HPET_CONFIGURATION, ENABLE | LEGACY);
    write64(hpet.HPET_INTERRUPT_STATUS, 7n);
    read64(COUNTER);
    expect(deadlineChanges).toBe(2);
    write64(CONF2, route(20)); // interrupt disabled: no deadline
    expect(deadlineChanges).toBe(3);
    expect(device.nextDeadline()).toBe(Infinity);
  });

  it('is the earliest match among the timers with interrupts enabled', () => {
    startCounterAt(0n);
    write64(CONF0, EDGE_ON_20);
    write64(CMP0, 900n);
    write64(CONF1, EDGE_ON_20);
    write64(CMP1, 300n);
    write64(CONF2, route(20));
    write64(CMP2, 100n);
    expect(device.nextDeadline()).toBe(timeOfTicks(300n));
  });
});

describe('shared state', () => {
  it('lets two views over one buffer see each other\'s writes and fire each other\'s timers', () => {
    const state = new SharedState(hpet.HPET_STATE_WORDS);
    const vcpu0 = makeHpet(state);
    const vcpu1 = makeHpet(state);
    write64(COUNTER, 0x4000n, vcpu1);
    write64(hpet.HPET_CONFIGURATION, ENABLE, vcpu1);
    write64(CONF2, LEVEL_ON_21, vcpu1);
    write64(CMP2, 0x4100n, vcpu1);
    expect(read64(CONF2, vcpu0) & BigInt(hpet.TN_INT_ENB_CNF)).not.toBe(0n);
    expect(vcpu0.nextDeadline()).toBe(timeOfTicks(0x4100n, START, 0x4000n));
    time = vcpu0.nextDeadline();
    vcpu0.serviceTimers(time);
    expect(read64(hpet.HPET_INTERRUPT_STATUS, vcpu1)).toBe(4n);
    write64(hpet.HPET_INTERRUPT_STATUS, 4n, vcpu1);
    expect(line(21).changes).toEqual([true, false]);
  });

  it('is reset by the first view only, and sized by HPET_STATE_WORDS', () => {
    const state = new SharedState(hpet.HPET_STATE_WORDS);
    const first = makeHpet(state);
    write64(CMP2, 5n, first);
    makeHpet(state);
    expect(read64(CMP2, first)).toBe(5n);
    expect(() => makeHpet(new SharedState(hpet.HPET_STATE_WORDS - 1))).toThrow(RangeError);
  });
});

describe('bus accesses', () => {
  it('split an access across a register boundary into partial accesses of each', () => {
    write64(CONF2, route(20));
    const data = new Uint8Array(8);
    new DataView(data.buffer).setUint32(4, 0x1234, true); // bytes 0x144-0x147: the route capability; 0x148-0x14b: the comparator
    device.write(CONF2 + 4, data);
    expect(read32(CONF2 + 4)).toBe(hpet.HPET_ROUTE_CAP);
    expect(read64(CMP2)).toBe(0xffff_ffff_0000_1234n);
  });

  it('never throw and keep the read-only registers, whatever a guest does', () => {
    const access = fc.record({
      write: fc.boolean(),
      offset: fc.integer({ min: 0, max: 0xfff }),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      advanceNs: fc.integer({ min: 0, max: 20 * MS }),
      service: fc.boolean(),
    });
    const capabilities = read64(hpet.HPET_CAPABILITIES);
    fc.assert(
      fc.property(fc.array(access, { maxLength: 40 }), (accesses) => {
        const view = makeHpet();
        for (const { write, offset, bytes, advanceNs, service } of accesses) {
          time += advanceNs;
          if (write) view.write(offset, bytes);
          else view.read(offset, bytes);
          if (service) view.serviceTimers(time);
        }
        expect(read64(hpet.HPET_CAPABILITIES, view)).toBe(capabilities);
        for (const conf of [CONF0, CONF1, CONF2]) {
          expect(read32(conf + 4, view)).toBe(hpet.HPET_ROUTE_CAP);
          expect(read32(conf, view) & (hpet.TN_PER_INT_CAP | hpet.TN_SIZE_CAP)).toBe(hpet.TN_PER_INT_CAP | hpet.TN_SIZE_CAP);
        }
        const deadline = view.nextDeadline();
        expect(deadline === Infinity || (Number.isFinite(deadline) && deadline >= START)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
