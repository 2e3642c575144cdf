/** The 8254 PIT model, register by register and mode by mode (Intel 82C54 data sheet), on a fake clock. */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import * as pit from '../../src/devices/pit8254.js';
import { SharedState } from '../../src/devices/shared-state.js';

class RecordingLine {
  readonly changes: boolean[] = [];
  setLevel(asserted: boolean): void {
    this.changes.push(asserted);
  }
  /** Pulses seen: each must be a rise straight followed by a fall. */
  get pulses(): number {
    for (let i = 0; i < this.changes.length; i++) expect(this.changes[i]).toBe(i % 2 === 0);
    expect(this.changes.length % 2).toBe(0);
    return this.changes.length / 2;
  }
}

const MS = 1_000_000; // ns
const START = 5_000 * MS; // the fake clock does not start at 0, as the host's does not
const F = BigInt(pit.PIT_FREQUENCY_HZ);
/** The host time, counting from `from`, at which `ticks` input clocks have passed: ceil(ticks / 1193182 s). */
const at = (ticks: number, from = START) => from + Number((BigInt(ticks) * 1_000_000_000n + F - 1n) / F);

// Control words (SC1 SC0 RW1 RW0 M2 M1 M0 BCD).
const control = (channel: number, rw: number, mode: number, bcd = 0) => (channel << 6) | (rw << 4) | (mode << 1) | bcd;
const LSB = 1;
const MSB = 2;
const BOTH = 3;
const latch = (channel: number) => channel << 6;
/** Read-Back: `count` and `status` say what to latch, `channels` is a list. */
const readBack = (channels: number[], count: boolean, status: boolean) =>
  0xc0 | (count ? 0 : 0x20) | (status ? 0 : 0x10) | channels.reduce((bits, channel) => bits | (2 << channel), 0);

let time: number;
let irq: RecordingLine;
let deadlineChanges: number;
let state: SharedState;
let device: pit.Pit;
let portB: pit.SystemControlPortB;

function makePit(state?: SharedState): pit.Pit {
  return new pit.Pit({ ...(state ? { state } : {}), now: () => time, irq, onDeadlineChange: () => deadlineChanges++ });
}

beforeEach(() => {
  time = START;
  irq = new RecordingLine();
  deadlineChanges = 0;
  state = new SharedState(pit.PIT_STATE_WORDS);
  device = makePit(state);
  portB = new pit.SystemControlPortB(device);
});

/** An 8-bit OUT to a PIT port (0x40-0x43) or port 0x61. */
function outb(port: number, value: number, view = device): void {
  if (port === pit.SYSTEM_CONTROL_PORT_B) new pit.SystemControlPortB(view).write(0, Uint8Array.of(value));
  else view.write(port - pit.PIT_BASE_PORT, Uint8Array.of(value));
}

function inb(port: number, view = device): number {
  const data = new Uint8Array(1);
  if (port === pit.SYSTEM_CONTROL_PORT_B) new pit.SystemControlPortB(view).read(0, data);
  else view.read(port - pit.PIT_BASE_PORT, data);
  return data[0] as number;
}

const counterPort = (channel: number) => pit.PIT_BASE_PORT + channel;
const CONTROL_PORT = pit.PIT_BASE_PORT + pit.PIT_CONTROL;

/** Sets `channel` to `mode`, LSB then MSB, and writes `count`. */
function program(channel: number, mode: number, count: number, bcd = 0): void {
  outb(CONTROL_PORT, control(channel, BOTH, mode, bcd));
  outb(counterPort(channel), count & 0xff);
  outb(counterPort(channel), count >> 8);
}

/** The count now, latched and read LSB then MSB (the channel must be in RW = 3). */
function count(channel: number): number {
  outb(CONTROL_PORT, latch(channel));
  return inb(counterPort(channel)) | (inb(counterPort(channel)) << 8);
}

/** The status byte, by Read-Back. */
function status(channel: number): number {
  outb(CONTROL_PORT, readBack([channel], false, true));
  return inb(counterPort(channel));
}

const outOf = (channel: number) => (status(channel) & 0x80) !== 0;
const nullCount = (channel: number) => (status(channel) & 0x40) !== 0;

function serviceAt(when: number): void {
  time = when;
  if (device.nextDeadline() <= when) device.service(when);
}

describe('reset state', () => {
  it('has each counter waiting for a count as after control word 0x36: OUT high, null count, mode 3, LSB then MSB', () => {
    for (const channel of [0, 1, 2]) expect(status(channel)).toBe(0x80 | 0x40 | 0x36);
    expect(device.nextDeadline()).toBe(Infinity);
    expect(inb(pit.SYSTEM_CONTROL_PORT_B) & ~pit.PORT_B_REFRESH).toBe(pit.PORT_B_OUT2); // gate 2 low, OUT 2 high
  });

  it('reads 0xff from the control word register (a read of A1A0 = 11 is a no-operation)', () => {
    expect(inb(CONTROL_PORT)).toBe(0xff);
    program(0, 2, 100);
    expect(inb(CONTROL_PORT)).toBe(0xff);
  });

  it('is set up once per shared state: a second view does not reset it', () => {
    const state = new SharedState(pit.PIT_STATE_WORDS);
    const first = makePit(state);
    outb(CONTROL_PORT, control(0, BOTH, 2), first);
    outb(counterPort(0), 0x34, first);
    outb(counterPort(0), 0x12, first);
    const second = makePit(state);
    outb(CONTROL_PORT, latch(0), second);
    expect(inb(counterPort(0), second) | (inb(counterPort(0), second) << 8)).toBe(0x1234);
  });

  it('refuses a shared state too small for it', () => {
    expect(() => makePit(new SharedState(pit.PIT_STATE_WORDS - 1))).toThrow(RangeError);
  });
});

describe('control word: RW and the LSB/MSB flip-flops ("Write Operations", "Read Operations")', () => {
  it('RW = 1 writes and reads the LSB only, the MSB being 0', () => {
    outb(CONTROL_PORT, control(1, LSB, 0));
    outb(counterPort(1), 0x42);
    expect(status(1) & 0x30).toBe(LSB << 4);
    expect(inb(counterPort(1))).toBe(0x42);
    expect(inb(counterPort(1))).toBe(0x42); // no flip-flop: each read is the LSB
    time = at(2);
    expect(inb(counterPort(1))).toBe(0x40);
    time = at(0x43);
    expect(inb(counterPort(1))).toBe(0xff); // past terminal count it wraps to 0xffff
  });

  it('RW = 2 writes and reads the MSB only, the LSB being 0', () => {
    outb(CONTROL_PORT, control(1, MSB, 0));
    outb(counterPort(1), 0x12);
    outb(CONTROL_PORT, latch(1));
    expect(inb(counterPort(1))).toBe(0x12);
    time = at(1);
    expect(inb(counterPort(1))).toBe(0x11); // 0x1200 - 1
    time = at(0x1200);
    expect(outOf(1)).toBe(true); // terminal count after 0x1200 clocks: the LSB was 0
  });

  it('RW = 3 takes the LSB then the MSB, and loads the count only on the MSB', () => {
    outb(CONTROL_PORT, control(1, BOTH, 2));
    outb(counterPort(1), 0x34);
    time = at(10);
    expect(nullCount(1)).toBe(true);
    expect(outOf(1)).toBe(true); // not counting
    outb(counterPort(1), 0x12);
    expect(nullCount(1)).toBe(false);
    expect(count(1)).toBe(0x1234);
  });

  it('RW = 3 reads alternate LSB and MSB by a flip-flop of their own, apart from the write flip-flop', () => {
    program(1, 0, 0x1234);
    expect(inb(counterPort(1))).toBe(0x34);
    outb(counterPort(1), 0x78); // a write's first byte leaves the read flip-flop at the MSB
    expect(inb(counterPort(1))).toBe(0x12); // the counter holds (mode 0's first byte stops it)
    outb(counterPort(1), 0x56);
    expect(inb(counterPort(1))).toBe(0x78);
    expect(inb(counterPort(1))).toBe(0x56);
  });

  it('a control word resets both flip-flops to the LSB', () => {
    outb(CONTROL_PORT, control(1, BOTH, 2));
    outb(counterPort(1), 0x99); // LSB written, MSB pending
    outb(CONTROL_PORT, control(1, BOTH, 2));
    outb(counterPort(1), 0x34);
    outb(counterPort(1), 0x12);
    expect(count(1)).toBe(0x1234);
    inb(counterPort(1)); // read flip-flop at the MSB
    outb(CONTROL_PORT, control(1, BOTH, 2));
    outb(counterPort(1), 0x00);
    outb(counterPort(1), 0x10);
    expect(inb(counterPort(1))).toBe(0x00);
    expect(inb(counterPort(1))).toBe(0x10);
  });

  it('takes a count of 0 as 65536: reads 0, then 0xffff one clock later, and reaches terminal count 65536 clocks on', () => {
    program(1, 0, 0);
    expect(count(1)).toBe(0);
    time = at(1);
    expect(count(1)).toBe(0xffff);
    time = at(65536) - 1;
    expect(outOf(1)).toBe(false);
    time = at(65536);
    expect(outOf(1)).toBe(true);
  });

  it('treats modes 6 and 7 as 2 and 3, and reports the mode bits as written', () => {
    program(1, 6, 10);
    expect((status(1) >> 1) & 7).toBe(6);
    time = at(9);
    expect(outOf(1)).toBe(false); // mode 2's low clock
    time = at(10);
    expect(count(1)).toBe(10);
    program(1, 7, 10);
    time += at(5) - START;
    expect(outOf(1)).toBe(false); // mode 3's low half
  });
});

describe('BCD counting', () => {
  it('counts four decades down and takes 0 as 10000', () => {
    program(1, 0, 0x1234, 1);
    expect(status(1) & 1).toBe(1);
    time = at(35);
    expect(count(1)).toBe(0x1199);
    program(1, 0, 0, 1);
    expect(count(1)).toBe(0);
    time += at(1) - START;
    expect(count(1)).toBe(0x9999);
  });

  it('reaches terminal count after the decimal number of clocks', () => {
    program(1, 0, 0x0100, 1);
    time = at(100) - 1;
    expect(outOf(1)).toBe(false);
    time = at(100);
    expect(outOf(1)).toBe(true);
  });
});

describe('Counter Latch Command (RW = 0)', () => {
  it('freezes the count until it is read, however long that takes, both bytes for RW = 3', () => {
    program(1, 2, 1000);
    time = at(100);
    outb(CONTROL_PORT, latch(1));
    time = at(500);
    expect(inb(counterPort(1))).toBe(900 & 0xff);
    time = at(700);
    expect(inb(counterPort(1))).toBe(900 >> 8);
    expect(count(1)).toBe(300); // read out: counting shows again
  });

  it('ignores a second latch before the first is read', () => {
    program(1, 0, 1000);
    time = at(10);
    outb(CONTROL_PORT, latch(1));
    time = at(20);
    outb(CONTROL_PORT, latch(1));
    expect(inb(counterPort(1)) | (inb(counterPort(1)) << 8)).toBe(990);
  });

  it('is read with one byte in RW = 1 and RW = 2', () => {
    outb(CONTROL_PORT, control(1, MSB, 0));
    outb(counterPort(1), 0x20); // 0x2000
    time = at(0x100);
    outb(CONTROL_PORT, latch(1));
    time = at(0x300);
    expect(inb(counterPort(1))).toBe(0x1f);
    expect(inb(counterPort(1))).toBe(0x1d); // the latch was read out
  });

  it('does not change the mode', () => {
    program(1, 3, 100);
    outb(CONTROL_PORT, latch(1));
    expect(status(1) & 0x3f).toBe(control(0, BOTH, 3));
  });
});

describe('Read-Back Command', () => {
  it('latches the counts of several channels at once', () => {
    program(0, 2, 1000);
    program(1, 2, 2000);
    program(2, 0, 3000);
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    time = at(100);
    outb(CONTROL_PORT, readBack([0, 1, 2], true, false));
    time = at(400);
    const read = (channel: number) => inb(counterPort(channel)) | (inb(counterPort(channel)) << 8);
    expect([read(0), read(1), read(2)]).toEqual([900, 1900, 2900]);
    expect(read(0)).toBe(600); // each latch went with its read
  });

  it('latches the status byte: OUT, null count, RW, mode, BCD', () => {
    outb(CONTROL_PORT, control(1, LSB, 4, 1));
    outb(CONTROL_PORT, control(2, MSB, 1));
    outb(CONTROL_PORT, readBack([1, 2], false, true));
    expect(inb(counterPort(1))).toBe(0x80 | 0x40 | (LSB << 4) | (4 << 1) | 1);
    expect(inb(counterPort(2))).toBe(0x80 | 0x40 | (MSB << 4) | (1 << 1));
    program(0, 0, 10);
    outb(CONTROL_PORT, readBack([0], false, true));
    expect(inb(counterPort(0))).toBe((BOTH << 4) | (0 << 1)); // OUT low, count loaded
  });

  it('reports the status first when both are latched, then the count, LSB and MSB', () => {
    program(1, 2, 0x1234);
    time = at(0x34);
    outb(CONTROL_PORT, readBack([1], true, true));
    time = at(0x100);
    expect(inb(counterPort(1))).toBe(0x80 | (BOTH << 4) | (2 << 1));
    expect(inb(counterPort(1))).toBe(0x00);
    expect(inb(counterPort(1))).toBe(0x12);
  });

  it('keeps a first latched status over a second until read, and the status at latch time', () => {
    program(1, 0, 10);
    outb(CONTROL_PORT, readBack([1], false, true));
    time = at(10);
    outb(CONTROL_PORT, readBack([1], false, true));
    expect(inb(counterPort(1)) & 0x80).toBe(0); // OUT was low when latched
    expect(outOf(1)).toBe(true);
  });

  it('leaves unselected channels alone', () => {
    program(1, 2, 1000);
    outb(CONTROL_PORT, readBack([0, 2], true, true));
    time = at(10);
    expect(inb(counterPort(1))).toBe(990 & 0xff);
  });

  it('null count: set by a control word and by a count written, clear once the count is loaded', () => {
    outb(CONTROL_PORT, control(1, BOTH, 2));
    expect(nullCount(1)).toBe(true);
    outb(counterPort(1), 100);
    outb(counterPort(1), 0);
    expect(nullCount(1)).toBe(false);
    time = at(30);
    outb(counterPort(1), 50);
    outb(counterPort(1), 0);
    expect(nullCount(1)).toBe(true); // mode 2 loads a new count at the end of the period
    time = at(100);
    expect(nullCount(1)).toBe(false);
  });
});

describe('mode 0: interrupt on terminal count', () => {
  it('sets OUT low, raises it after exactly N clocks and interrupts once there', () => {
    outb(CONTROL_PORT, control(0, BOTH, 0));
    expect(outOf(0)).toBe(false);
    outb(counterPort(0), 1000 & 0xff);
    outb(counterPort(0), 1000 >> 8);
    expect(device.nextDeadline()).toBe(at(1000));
    time = at(1000) - 1;
    expect(outOf(0)).toBe(false);
    expect(count(0)).toBe(1);
    serviceAt(at(1000) - 1);
    expect(irq.pulses).toBe(0);
    serviceAt(at(1000));
    expect(irq.pulses).toBe(1);
    expect(outOf(0)).toBe(true);
    expect(count(0)).toBe(0);
    expect(device.nextDeadline()).toBe(Infinity);
    time = at(1002);
    expect(count(0)).toBe(0xfffe); // counting goes on, OUT stays high
    expect(outOf(0)).toBe(true);
    serviceAt(at(100_000));
    expect(irq.pulses).toBe(1);
  });

  it('restarts when the count is written again, with a new edge', () => {
    program(0, 0, 100);
    serviceAt(at(100));
    const restart = (time = at(150));
    expect(outOf(0)).toBe(true);
    outb(counterPort(0), 200);
    expect(outOf(0)).toBe(false); // the first byte stops the counter and sets OUT low...
    outb(counterPort(0), 0);
    expect(outOf(0)).toBe(false); // ... the second loads it
    expect(device.nextDeadline()).toBe(at(200, restart));
    serviceAt(at(200, restart));
    expect(irq.pulses).toBe(2);
  });

  it('holds the count and keeps OUT low between the two bytes of a new count', () => {
    program(1, 0, 100);
    time = at(100);
    expect(outOf(1)).toBe(true);
    outb(counterPort(1), 0x10);
    expect(outOf(1)).toBe(false);
    time = at(300);
    expect(inb(counterPort(1))).toBe(0); // held at 0, where terminal count left it
    expect(inb(counterPort(1))).toBe(0);
  });

  it('fires a due edge on any register access, before the access', () => {
    program(0, 0, 100);
    time = at(150);
    inb(counterPort(1));
    expect(irq.pulses).toBe(1);
    expect(device.nextDeadline()).toBe(Infinity);
  });
});

describe('mode 2: rate generator', () => {
  it('counts N down to 1 and reloads; OUT is low for the one clock at 1', () => {
    program(1, 2, 100);
    const sample = (ticks: number) => {
      time = at(ticks);
      return [count(1), outOf(1)];
    };
    expect(sample(0)).toEqual([100, true]);
    expect(sample(1)).toEqual([99, true]);
    expect(sample(98)).toEqual([2, true]);
    expect(sample(99)).toEqual([1, false]);
    expect(sample(100)).toEqual([100, true]);
    expect(sample(199)).toEqual([1, false]);
    expect(sample(250)).toEqual([50, true]);
  });

  it('interrupts at each OUT rise, once every N clocks, on channel 0', () => {
    program(0, 2, 1193); // about 1 kHz
    for (let period = 1; period <= 5; period++) {
      expect(device.nextDeadline()).toBe(at(1193 * period));
      serviceAt(at(1193 * period) - 1);
      expect(irq.pulses).toBe(period - 1);
      serviceAt(at(1193 * period));
      expect(irq.pulses).toBe(period);
    }
    expect(pit.pitCoalescedPeriods(state)).toBe(0);
  });

  it('takes a count written while counting at the end of the current period', () => {
    program(0, 2, 100);
    time = at(30);
    outb(counterPort(0), 50);
    outb(counterPort(0), 0);
    expect(device.nextDeadline()).toBe(at(100));
    time = at(99);
    expect(count(0)).toBe(1);
    serviceAt(at(100));
    expect(irq.pulses).toBe(1);
    expect(count(0)).toBe(50);
    expect(device.nextDeadline()).toBe(at(50, at(100))); // counted from the reload
  });

  it('loads a new count and fires the old period\'s last edge even when found late', () => {
    program(0, 2, 100);
    time = at(30);
    outb(counterPort(0), 50);
    outb(counterPort(0), 0);
    const reload = at(100);
    time = at(160, reload); // edges at 100 (the old period's last), then 50, 100 and 150 clocks after it
    expect(count(0)).toBe(40);
    expect(irq.pulses).toBe(1);
    expect(pit.pitCoalescedPeriods(state)).toBe(3);
    expect(device.nextDeadline()).toBe(at(200, reload));
  });

  it('with the illegal count 1, leaves OUT high and raises no interrupt', () => {
    program(0, 2, 1);
    expect(device.nextDeadline()).toBe(Infinity);
    time = at(10);
    expect(outOf(0)).toBe(true);
  });
});

describe('mode 3: square wave', () => {
  it('even N: high for N/2 clocks, low for N/2, counting down by two', () => {
    program(1, 3, 10);
    const samples = [];
    for (let ticks = 0; ticks < 12; ticks++) {
      time = at(ticks);
      samples.push([count(1), outOf(1) ? 1 : 0]);
    }
    expect(samples).toEqual([
      [10, 1], [8, 1], [6, 1], [4, 1], [2, 1],
      [10, 0], [8, 0], [6, 0], [4, 0], [2, 0],
      [10, 1], [8, 1],
    ]);
  });

  it('odd N: high for (N+1)/2 clocks, low for (N-1)/2, as the data sheet decrements', () => {
    program(1, 3, 7);
    const samples = [];
    for (let ticks = 0; ticks < 8; ticks++) {
      time = at(ticks);
      samples.push([count(1), outOf(1) ? 1 : 0]);
    }
    expect(samples).toEqual([
      [7, 1], [6, 1], [4, 1], [2, 1],
      [7, 0], [4, 0], [2, 0],
      [7, 1],
    ]);
  });

  it('interrupts at each rising edge, once a period, on channel 0', () => {
    program(0, 3, 0); // 65536: the BIOS's 18.2 Hz
    expect(device.nextDeadline()).toBe(at(65536));
    serviceAt(at(65536 + 32768)); // the falling edge is no interrupt
    expect(irq.pulses).toBe(1);
    expect(device.nextDeadline()).toBe(at(2 * 65536));
    serviceAt(at(2 * 65536));
    expect(irq.pulses).toBe(2);
  });
});

describe('mode 4: software triggered strobe', () => {
  it('keeps OUT high, low for the one clock at terminal count; interrupts once as it rises again', () => {
    program(0, 4, 500);
    expect(outOf(0)).toBe(true);
    expect(device.nextDeadline()).toBe(at(501));
    time = at(499);
    expect(outOf(0)).toBe(true);
    time = at(500);
    expect(outOf(0)).toBe(false);
    serviceAt(at(501));
    expect(outOf(0)).toBe(true);
    expect(irq.pulses).toBe(1);
    expect(device.nextDeadline()).toBe(Infinity);
  });

  it('retriggers on each count written (Linux\'s one-shot clock event)', () => {
    program(0, 4, 500);
    time = at(200);
    outb(counterPort(0), 1000 & 0xff);
    outb(counterPort(0), 1000 >> 8);
    expect(device.nextDeadline()).toBe(at(1001, at(200)));
  });
});

describe('modes 1 and 5: gate-triggered, on channel 2', () => {
  it('mode 1 waits for a gate rising edge, then holds OUT low for N clocks; a new edge retriggers', () => {
    program(2, 1, 100);
    expect(outOf(2)).toBe(true);
    time = at(50);
    expect(outOf(2)).toBe(true); // no trigger yet
    const trigger = time;
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    expect(outOf(2)).toBe(false);
    time = at(60, trigger);
    expect(count(2)).toBe(40);
    outb(pit.SYSTEM_CONTROL_PORT_B, 0); // a low gate does not stop mode 1
    time = at(70, trigger);
    expect(count(2)).toBe(30);
    const retrigger = time;
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    time = at(99, retrigger);
    expect(outOf(2)).toBe(false);
    time = at(100, retrigger);
    expect(outOf(2)).toBe(true);
  });

  it('mode 5 strobes OUT low for one clock N clocks after the trigger', () => {
    program(2, 5, 10);
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    const trigger = time;
    time = at(9, trigger);
    expect(outOf(2)).toBe(true);
    time = at(10, trigger);
    expect(outOf(2)).toBe(false);
    time = at(11, trigger);
    expect(outOf(2)).toBe(true);
  });

  it('never start on channel 0, whose gate is tied high: no deadline', () => {
    program(0, 1, 100);
    program(0, 5, 100);
    expect(device.nextDeadline()).toBe(Infinity);
    time = at(1000);
    expect(count(0)).toBe(0); // held since the control word
  });

  it('a gate edge before any count triggers nothing', () => {
    outb(CONTROL_PORT, control(2, BOTH, 1));
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    outb(counterPort(2), 10);
    outb(counterPort(2), 0);
    time = at(20);
    expect(outOf(2)).toBe(true);
    expect(nullCount(2)).toBe(true);
  });
});

describe('coalescing', () => {
  it('fires one edge for the periods missed while service came late, and counts the others', () => {
    program(0, 2, 1000);
    serviceAt(at(5500)); // edges at 1000, 2000, 3000, 4000 and 5000
    expect(irq.pulses).toBe(1);
    expect(pit.pitCoalescedPeriods(state)).toBe(4);
    expect(device.nextDeadline()).toBe(at(6000));
    serviceAt(at(6000));
    expect(irq.pulses).toBe(2);
    expect(pit.pitCoalescedPeriods(state)).toBe(4);
  });
});

describe('port 0x61 and channel 2 gate', () => {
  const GATE = pit.PORT_B_GATE2;
  const OUT2 = pit.PORT_B_OUT2;
  const readB = () => inb(pit.SYSTEM_CONTROL_PORT_B);

  it('stores bits 3:0, ignores writes to the read-only bits 7:4', () => {
    outb(pit.SYSTEM_CONTROL_PORT_B, 0xff);
    expect(readB() & 0xcf).toBe(0x0f);
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_SPEAKER);
    expect(readB() & 0xcf).toBe(pit.PORT_B_SPEAKER);
  });

  it('shows channel 2 OUT in bit 5', () => {
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    program(2, 0, 100);
    expect(readB() & OUT2).toBe(0);
    time = at(100);
    expect(readB() & OUT2).toBe(OUT2);
  });

  it('toggles bit 4 every refresh interval, from the host clock', () => {
    time = Math.ceil(START / pit.REFRESH_TOGGLE_NS) * pit.REFRESH_TOGGLE_NS;
    const first = readB() & pit.PORT_B_REFRESH;
    time += pit.REFRESH_TOGGLE_NS - 1;
    expect(readB() & pit.PORT_B_REFRESH).toBe(first);
    time += 1;
    expect(readB() & pit.PORT_B_REFRESH).toBe(first ^ pit.PORT_B_REFRESH);
    time += pit.REFRESH_TOGGLE_NS;
    expect(readB() & pit.PORT_B_REFRESH).toBe(first);
  });

  it('gate low holds modes 0 and 4; high again resumes from where it stopped', () => {
    program(2, 0, 1000); // gate low: loaded, not counting
    time = at(300);
    expect(count(2)).toBe(1000);
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    const resumed = time;
    time = at(400, resumed);
    expect(count(2)).toBe(600);
    outb(pit.SYSTEM_CONTROL_PORT_B, 0);
    const stopped = time;
    time = at(5000, stopped);
    expect(count(2)).toBe(600);
    expect(readB() & OUT2).toBe(0);
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    const again = time;
    time = at(599, again);
    expect(readB() & OUT2).toBe(0);
    time = at(600, again);
    expect(readB() & OUT2).toBe(OUT2);
  });

  it('gate low stops modes 2 and 3 with OUT high; a rising edge reloads', () => {
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    program(2, 3, 100);
    time = at(70); // the low half
    expect(readB() & OUT2).toBe(0);
    outb(pit.SYSTEM_CONTROL_PORT_B, 0);
    expect(readB() & OUT2).toBe(OUT2);
    const held = count(2);
    time = at(500);
    expect(count(2)).toBe(held);
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    const reloaded = time;
    expect(count(2)).toBe(100);
    time = at(50, reloaded);
    expect(readB() & OUT2).toBe(0);
  });

  it('a count written with the gate low waits, loaded, for the gate in modes 2 and 3', () => {
    program(2, 2, 10);
    expect(nullCount(2)).toBe(false);
    time = at(100);
    expect(count(2)).toBe(10);
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    const start = time;
    time = at(9, start);
    expect(outOf(2)).toBe(false);
  });

  it('runs the kernels\' TSC calibration exactly: gate on, mode 0, poll bit 5 until OUT goes high', () => {
    const LATCH = 11932; // 10 ms
    // Linux pit_calibrate_tsc: the gate on and the speaker off, then mode 0, LSB then MSB.
    outb(pit.SYSTEM_CONTROL_PORT_B, (readB() & ~pit.PORT_B_SPEAKER) | GATE);
    outb(CONTROL_PORT, 0xb0);
    outb(counterPort(2), LATCH & 0xff);
    const loaded = time;
    outb(counterPort(2), LATCH >> 8);
    let polls = 0;
    while ((readB() & OUT2) === 0) {
      time += 997; // a poll loop's pace, prime to the clock
      polls++;
    }
    const expected = at(LATCH, loaded);
    expect(time).toBeGreaterThanOrEqual(expected);
    expect(time - 997).toBeLessThan(expected);
    expect(polls).toBe(Math.ceil((expected - loaded) / 997));
    expect(expected - loaded).toBe(10_000_151); // 11932 / 1193182 s, rounded up to the ns
    expect(irq.pulses).toBe(0); // channel 2 interrupts nothing
  });

  it('runs the quick calibration: count 0xffff, reading the live MSB without latching', () => {
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    program(2, 0, 0xffff);
    const loaded = time;
    const msb = () => {
      inb(counterPort(2));
      return inb(counterPort(2));
    };
    expect(msb()).toBe(0xff);
    time = at(0xff, loaded) - 1;
    expect(msb()).toBe(0xff);
    time = at(0x100, loaded);
    expect(msb()).toBe(0xfe);
    time = at(0x100 * 10, loaded); // 0xf5ff
    expect(msb()).toBe(0xf5);
  });

  it('does not move channel 0\'s deadline', () => {
    program(0, 2, 1000);
    const changes = deadlineChanges;
    outb(pit.SYSTEM_CONTROL_PORT_B, GATE);
    program(2, 2, 10);
    expect(deadlineChanges).toBe(changes);
    expect(device.nextDeadline()).toBe(at(1000));
  });
});

describe('nextDeadline and onDeadlineChange', () => {
  it('reports channel 0\'s next edge, and calls onDeadlineChange when an access moves it', () => {
    expect(device.nextDeadline()).toBe(Infinity);
    program(0, 2, 500);
    expect(deadlineChanges).toBe(1);
    expect(device.nextDeadline()).toBe(at(500));
    time = at(100);
    inb(counterPort(0));
    expect(deadlineChanges).toBe(1);
    outb(CONTROL_PORT, control(0, BOTH, 2)); // stops counting
    expect(device.nextDeadline()).toBe(Infinity);
    expect(deadlineChanges).toBe(2);
  });

  it('ignores channels 1 and 2, which never interrupt', () => {
    program(1, 2, 10);
    outb(pit.SYSTEM_CONTROL_PORT_B, pit.PORT_B_GATE2);
    program(2, 3, 10);
    expect(device.nextDeadline()).toBe(Infinity);
    expect(deadlineChanges).toBe(0);
    time = at(1000);
    device.service(time);
    expect(irq.pulses).toBe(0);
  });

  it('is the same in every view of one shared state', () => {
    const first = makePit(state);
    const second = makePit(state);
    outb(CONTROL_PORT, control(0, BOTH, 2), first);
    outb(counterPort(0), 100, first);
    outb(counterPort(0), 0, first);
    expect(second.nextDeadline()).toBe(at(100));
    time = at(40);
    outb(CONTROL_PORT, latch(0), second);
    expect(inb(counterPort(0), first)).toBe(60);
    second.service(at(100));
    expect(irq.pulses).toBe(1);
    expect(first.nextDeadline()).toBe(at(200));
  });

  it('stays exact far from the load: whole seconds of clocks and their rest apart', () => {
    program(0, 2, 59659); // 20 Hz
    const hour = 72_000 * 59659; // 3600 s of periods
    serviceAt(at(hour - 1));
    expect(device.nextDeadline()).toBe(at(hour));
    time = at(hour) - 1;
    expect(count(0)).toBe(1);
    time = at(hour);
    expect(count(0)).toBe(59659);
  });
});

describe('bus accesses', () => {
  it('split a wider access into bytes at consecutive ports, and read 0xff past the PIT', () => {
    program(0, 2, 0x1111);
    program(1, 2, 0x2222);
    const data = new Uint8Array(4);
    device.read(0, data);
    expect([...data]).toEqual([0x11, 0x22, 0x00, 0xff]); // channel 2 holds its reset count, 0; port 0x43 reads 0xff
    device.write(2, Uint8Array.of(0x00, control(2, LSB, 0), 0x12, 0x34)); // counter 2, the control word, past the PIT
    expect(status(2) & 0x3f).toBe(control(0, LSB, 0));
    const wide = new Uint8Array(8);
    device.read(3, wide);
    expect([...wide]).toEqual(Array(8).fill(0xff));
  });

  it('port 0x61 takes only its first byte; the rest read 0xff', () => {
    const data = Uint8Array.of(pit.PORT_B_GATE2, 0xff);
    portB.write(0, data);
    const read = new Uint8Array(4);
    portB.read(0, read);
    expect((read[0] as number) & 0x0f).toBe(pit.PORT_B_GATE2);
    expect([...read.subarray(1)]).toEqual([0xff, 0xff, 0xff]);
  });

  it('never throw, whatever a guest writes or reads in whatever order, and the deadline stays sane', () => {
    const access = fc.record({
      write: fc.boolean(),
      portB: fc.boolean(),
      offset: fc.integer({ min: 0, max: 7 }),
      bytes: fc.constantFrom(1, 2, 4, 8).chain((size) => fc.uint8Array({ minLength: size, maxLength: size })),
      advanceNs: fc.integer({ min: 0, max: 60 * MS }),
      service: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 60 }), (accesses) => {
        time = START;
        const view = makePit();
        const port = new pit.SystemControlPortB(view);
        for (const { write, portB, offset, bytes, advanceNs, service } of accesses) {
          time += advanceNs;
          const target = portB ? port : view;
          if (write) target.write(portB ? offset % 2 : offset % pit.PIT_PORT_COUNT, bytes);
          else target.read(portB ? offset % 2 : offset % pit.PIT_PORT_COUNT, bytes);
          if (service) view.service(time);
          const deadline = view.nextDeadline();
          expect(deadline === Infinity || (Number.isInteger(deadline) && deadline > START)).toBe(true);
        }
        for (let channel = 0; channel < 3; channel++) {
          outb(CONTROL_PORT, readBack([channel], true, true), view);
          for (let i = 0; i < 3; i++) expect(inb(counterPort(channel), view)).toBeGreaterThanOrEqual(0);
        }
      }),
      { numRuns: 500 },
    );
  });
});
