/** The 8259A pair model, register by register, then the cascade and the trigger modes (Intel 8259A data sheet). */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { BusDevice } from '../../src/devices/bus-device.js';
import { Bus } from '../../src/devices/bus.js';
import * as pic8259 from '../../src/devices/pic8259.js';
import { SharedState } from '../../src/devices/shared-state.js';

const { Pic8259, PIC_COMMAND, PIC_DATA, PIC_STATE_WORDS, OCW3_READ_IRR, OCW3_READ_ISR, OCW3_POLL, OCW2_EOI, OCW2_SPECIFIC_EOI } = pic8259;

class RecordingLine {
  level = false;
  readonly changes: boolean[] = [];
  setLevel(asserted: boolean): void {
    this.level = asserted;
    this.changes.push(asserted);
  }
}

let output: RecordingLine;
let state: SharedState;
let pic: pic8259.Pic8259;
let master: BusDevice;
let slave: BusDevice;

beforeEach(() => {
  output = new RecordingLine();
  state = new SharedState(PIC_STATE_WORDS);
  pic = new Pic8259({ output, state });
  ({ master, slave } = pic);
});

const outb = (device: BusDevice, port: number, value: number) => device.write(port, Uint8Array.of(value));
function inb(device: BusDevice, port: number): number {
  const data = new Uint8Array(1);
  device.read(port, data);
  return data[0] as number;
}
const command = (chip: BusDevice, value: number) => outb(chip, PIC_COMMAND, value);
const setMask = (chip: BusDevice, value: number) => outb(chip, PIC_DATA, value);
const mask = (chip: BusDevice) => inb(chip, PIC_DATA);
function irr(chip: BusDevice): number {
  command(chip, OCW3_READ_IRR);
  return inb(chip, PIC_COMMAND);
}
/** ISR through OCW3, leaving IRR selected again as after ICW1. */
function isr(chip: BusDevice): number {
  command(chip, OCW3_READ_ISR);
  const value = inb(chip, PIC_COMMAND);
  command(chip, OCW3_READ_IRR);
  return value;
}
/** An edge-triggered device's interrupt: its line rises and falls. */
function pulse(...irqs: number[]): void {
  for (const irq of irqs) {
    pic.setIrq(irq, true);
    pic.setIrq(irq, false);
  }
}

/**
 * The sequence Linux's init_8259A and ArceOS make: ICW1 0x11 (edge, cascade, ICW4 follows),
 * ICW2 the vector base, ICW3 the master's slave on IR2 and the slave's ID 2, ICW4 8086 mode.
 */
function initialize(icw4 = 0x01, masterIcw4 = icw4): void {
  for (const [chip, base, icw3, fourth] of [[master, 0x20, 0x04, masterIcw4], [slave, 0x28, 0x02, icw4]] as const) {
    command(chip, 0x11);
    setMask(chip, base);
    setMask(chip, icw3);
    setMask(chip, fourth);
  }
}
/** Requests several edges at once: raised while masked, then unmasked together. */
function simultaneous(...irqs: number[]): void {
  const [masterMask, slaveMask] = [mask(master), mask(slave)];
  setMask(master, 0xff);
  setMask(slave, 0xff);
  pulse(...irqs);
  setMask(master, masterMask);
  setMask(slave, slaveMask);
}

describe('power-on state (a zeroed shared state)', () => {
  it('masks every input, has nothing pending or in service, and reads IRR at the command port', () => {
    expect([mask(master), mask(slave)]).toEqual([0xff, 0xff]);
    expect([inb(master, PIC_COMMAND), inb(slave, PIC_COMMAND)]).toEqual([0, 0]);
    expect([isr(master), isr(slave)]).toEqual([0, 0]);
  });

  it('latches a request in IRR without raising the output', () => {
    pulse(1);
    expect(irr(master)).toBe(0x02);
    expect(output.changes).toEqual([]);
    expect(pic.acknowledge()).toBeUndefined();
  });
});

describe('the initialization sequence (ICW1 to ICW4)', () => {
  it('takes the Linux/ArceOS sequence, then the masks, and reads them back', () => {
    initialize();
    expect([mask(master), mask(slave)]).toEqual([0, 0]); // ICW1 cleared IMR
    expect([irr(master), isr(master), irr(slave), isr(slave)]).toEqual([0, 0, 0, 0]);
    setMask(master, 0xff);
    setMask(slave, 0xff);
    expect([mask(master), mask(slave)]).toEqual([0xff, 0xff]);
    pulse(0, 12);
    expect(output.changes).toEqual([]);
  });

  it('answers at 0x20, 0xa0 and 0x4d0 on an I/O bus, as a platform attaches it', () => {
    const bus = new Bus('I/O port');
    bus.register('PIC master', pic8259.PIC_MASTER_PORT, pic8259.PIC_PORT_COUNT, master);
    bus.register('PIC slave', pic8259.PIC_SLAVE_PORT, pic8259.PIC_PORT_COUNT, slave);
    bus.register('ELCR', pic8259.ELCR_PORT, pic8259.ELCR_PORT_COUNT, pic.elcr);
    const out = (port: number, value: number) => bus.write(port, Uint8Array.of(value));
    const read = (port: number) => {
      const data = new Uint8Array(1);
      bus.read(port, data);
      return data[0];
    };
    // Linux's init_8259A (vector bases 0x30 and 0x38), the masks, then IRQ 9-11 level-triggered.
    const writes: [number, number][] = [[0x20, 0x11], [0x21, 0x30], [0x21, 0x04], [0x21, 0x01], [0xa0, 0x11], [0xa1, 0x38], [0xa1, 0x02], [0xa1, 0x01], [0x21, 0xff], [0xa1, 0xff], [0x4d1, 0x0e]];
    for (const [port, value] of writes) out(port, value);
    expect([read(0x21), read(0xa1), read(0x20), read(0xa0), read(0x4d0), read(0x4d1)]).toEqual([0xff, 0xff, 0, 0, 0, 0x0e]);
    out(0x21, 0xfe);
    pulse(0);
    expect(pic.acknowledge()).toBe(0x30);
  });

  it('gives vectors from ICW2 bits 7:3, ignoring bits 2:0', () => {
    command(master, 0x11);
    setMask(master, 0x27);
    setMask(master, 0x04);
    setMask(master, 0x01);
    pulse(3);
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('ICW1 clears IMR and ISR, restores the default priority, special mask mode off and the IRR read', () => {
    initialize();
    pulse(3);
    pic.acknowledge();
    command(master, pic8259.OCW2_SET_PRIORITY | 4); // IR5 highest
    command(master, pic8259.OCW3_SET_SPECIAL_MASK);
    command(master, OCW3_READ_ISR);
    setMask(master, 0x12);
    command(master, 0x11);
    expect(mask(master)).toBe(0);
    expect(inb(master, PIC_COMMAND)).toBe(0); // IRR, not ISR
    setMask(master, 0x20);
    setMask(master, 0x04);
    setMask(master, 0x01);
    expect(isr(master)).toBe(0);
    simultaneous(7, 0);
    expect(pic.acknowledge()).toBe(0x20); // IR0 highest again
    setMask(master, 0x01); // IR0 masked while in service: special mask mode would let IR7 through
    expect(pic.acknowledge()).toBeUndefined();
  });

  it('ICW1 resets the edge sense: an input held high must fall and rise again to request', () => {
    initialize();
    pic.setIrq(4, true);
    command(master, 0x11);
    setMask(master, 0x20);
    setMask(master, 0x04);
    setMask(master, 0x01);
    expect(irr(master)).toBe(0);
    expect(pic.acknowledge()).toBeUndefined();
    pic.setIrq(4, false);
    pic.setIrq(4, true);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('ICW1 keeps a level-triggered input\'s request, since IRR follows its level', () => {
    pic.elcr.write(0, Uint8Array.of(0x20));
    pic.setIrq(5, true);
    initialize();
    expect(irr(master)).toBe(0x20);
    expect(pic.acknowledge()).toBe(0x25);
  });

  it('skips ICW3 in single mode, and takes ICW4 only when IC4 asks for it', () => {
    command(master, pic8259.ICW1_INIT | pic8259.ICW1_SNGL | pic8259.ICW1_IC4);
    setMask(master, 0x40);
    setMask(master, pic8259.ICW4_8086 | pic8259.ICW4_AEOI);
    setMask(master, 0xfe);
    expect(mask(master)).toBe(0xfe);
    pulse(0);
    expect(pic.acknowledge()).toBe(0x40);
    expect(isr(master)).toBe(0); // ICW4 set AEOI

    command(master, pic8259.ICW1_INIT | pic8259.ICW1_SNGL);
    setMask(master, 0x40);
    setMask(master, 0xfd); // no ICW3, no ICW4: this is OCW1
    expect(mask(master)).toBe(0xfd);
    pulse(1);
    expect(pic.acknowledge()).toBe(0x41);
    expect(isr(master)).toBe(0x02); // without ICW4, AEOI is off
  });

  it('takes ICW3 then no ICW4 in cascade mode without IC4', () => {
    command(slave, pic8259.ICW1_INIT);
    setMask(slave, 0x28);
    setMask(slave, 0x02);
    setMask(slave, 0x5a);
    expect(mask(slave)).toBe(0x5a);
  });

  it('starts over at a second ICW1 in the middle of the sequence, and reads IMR at the data port meanwhile', () => {
    command(master, 0x11);
    setMask(master, 0x30);
    expect(mask(master)).toBe(0);
    command(master, 0x11);
    setMask(master, 0x20);
    setMask(master, 0x04);
    setMask(master, 0x01);
    setMask(master, 0xfb);
    expect(mask(master)).toBe(0xfb);
    command(slave, 0x11);
    setMask(slave, 0x28);
    setMask(slave, 0x02);
    setMask(slave, 0x01);
    pulse(9);
    expect(pic.acknowledge()).toBe(0x29);
  });
});

describe('OCW1 (the data port): IMR', () => {
  beforeEach(() => initialize());

  it('reads back any value on each chip', () => {
    for (const value of [0x00, 0xa5, 0x5a, 0xff]) {
      setMask(master, value);
      setMask(slave, value ^ 0xff);
      expect([mask(master), mask(slave)]).toEqual([value, value ^ 0xff]);
    }
  });

  it('holds a masked request in IRR and lets it through when unmasked', () => {
    setMask(master, 0x08);
    pulse(3);
    expect(irr(master)).toBe(0x08);
    expect(output.level).toBe(false);
    setMask(master, 0);
    expect(output.changes).toEqual([true]);
    setMask(master, 0x08);
    expect(output.changes).toEqual([true, false]);
  });
});

describe('OCW3: the read register command', () => {
  beforeEach(() => initialize());

  it('reads IRR after 0x0a and ISR after 0x0b, until changed; OCW3 without RR keeps the choice', () => {
    simultaneous(3, 6);
    pic.acknowledge();
    command(master, OCW3_READ_ISR);
    expect([inb(master, PIC_COMMAND), inb(master, PIC_COMMAND)]).toEqual([0x08, 0x08]);
    command(master, pic8259.OCW3); // RR = 0: no change
    expect(inb(master, PIC_COMMAND)).toBe(0x08);
    command(master, OCW3_READ_IRR);
    expect([inb(master, PIC_COMMAND), inb(master, PIC_COMMAND)]).toEqual([0x40, 0x40]);
    expect(mask(master)).toBe(0); // the data port reads IMR whatever OCW3 chose
  });
});

describe('OCW2: EOI and rotation', () => {
  beforeEach(() => initialize());

  it('non-specific EOI clears the highest-priority ISR bit, so nested interrupts end in order', () => {
    pulse(5);
    expect(pic.acknowledge()).toBe(0x25);
    pulse(1);
    expect(pic.acknowledge()).toBe(0x21); // a higher level preempts
    expect(isr(master)).toBe(0x22);
    command(master, OCW2_EOI);
    expect(isr(master)).toBe(0x20);
    command(master, OCW2_EOI);
    expect(isr(master)).toBe(0);
  });

  it('non-specific EOI follows a rotated priority', () => {
    command(master, pic8259.OCW2_SET_PRIORITY | 3); // order 4 5 6 7 0 1 2 3
    pulse(1);
    pic.acknowledge();
    pulse(5);
    expect(pic.acknowledge()).toBe(0x25);
    command(master, OCW2_EOI);
    expect(isr(master)).toBe(0x02);
  });

  it('specific EOI (0x60 | level) clears that level, highest or not', () => {
    pulse(5);
    pic.acknowledge();
    pulse(1);
    pic.acknowledge();
    command(master, OCW2_SPECIFIC_EOI | 5);
    expect(isr(master)).toBe(0x02);
    command(master, OCW2_SPECIFIC_EOI | 1);
    expect(isr(master)).toBe(0);
  });

  it('rotate on non-specific EOI (0xa0) makes the level it ends the lowest', () => {
    pulse(3);
    pic.acknowledge();
    command(master, pic8259.OCW2_ROTATE_EOI);
    expect(isr(master)).toBe(0);
    simultaneous(1, 4); // order now 4 5 6 7 0 1 2 3
    expect(pic.acknowledge()).toBe(0x24);
    expect(pic.acknowledge()).toBeUndefined(); // IR1 ranks below IR4 in service
    command(master, pic8259.OCW2_ROTATE_EOI); // IR4 lowest: order 5 6 7 0 1 2 3 4
    expect(pic.acknowledge()).toBe(0x21);
  });

  it('rotate on non-specific EOI with nothing in service changes nothing', () => {
    command(master, pic8259.OCW2_ROTATE_EOI);
    simultaneous(0, 7);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('rotate on specific EOI (0xe0 | level) ends that level and makes it the lowest', () => {
    pulse(6);
    pic.acknowledge();
    pulse(3);
    pic.acknowledge();
    command(master, pic8259.OCW2_ROTATE_SPECIFIC_EOI | 3); // order 4 5 6 7 0 1 2 3
    expect(isr(master)).toBe(0x40);
    command(master, OCW2_SPECIFIC_EOI | 6);
    simultaneous(3, 4, 0);
    expect(pic.acknowledge()).toBe(0x24);
  });

  it('set priority (0xc0 | level) makes that level the lowest without ending anything', () => {
    pulse(6);
    pic.acknowledge();
    command(master, pic8259.OCW2_SET_PRIORITY | 5); // order 6 7 0 1 2 3 4 5
    expect(isr(master)).toBe(0x40);
    pulse(0);
    expect(pic.acknowledge()).toBeUndefined(); // IR0 now ranks below IR6 in service
    command(master, OCW2_EOI);
    expect(pic.acknowledge()).toBe(0x20);
  });

  it('no operation (0x40) changes nothing', () => {
    pulse(3);
    pic.acknowledge();
    command(master, pic8259.OCW2_NOP | 3);
    expect(isr(master)).toBe(0x08);
  });

  it('rotate in AEOI mode (0x80 set, 0x00 clear) rotates at each acknowledge while set', () => {
    initialize(pic8259.ICW4_8086 | pic8259.ICW4_AEOI);
    command(master, pic8259.OCW2_ROTATE_AEOI_SET);
    pulse(1);
    expect(pic.acknowledge()).toBe(0x21); // IR1 now lowest: order 2 ... 7 0 1
    simultaneous(0, 3);
    expect(pic.acknowledge()).toBe(0x23); // IR3 now lowest: order 4 ... 7 0 1 2 3
    command(master, pic8259.OCW2_ROTATE_AEOI_CLEAR);
    simultaneous(1, 4);
    expect(pic.acknowledge()).toBe(0x24);
    expect(pic.acknowledge()).toBe(0x20); // no rotation: 0 still outranks 1
    expect(pic.acknowledge()).toBe(0x21);
  });
});

describe('OCW3: the poll command', () => {
  beforeEach(() => initialize());

  it('answers the next read with 0x80 | level and acknowledges it, once', () => {
    pulse(3);
    command(master, OCW3_POLL);
    expect(inb(master, PIC_COMMAND)).toBe(0x83);
    expect(output.changes).toEqual([true, false]); // the request is in service
    expect(isr(master)).toBe(0x08);
    expect(irr(master)).toBe(0);
    expect(inb(master, PIC_COMMAND)).toBe(0); // IRR again
  });

  it('answers 0 when nothing is pending, or only what a level in service blocks', () => {
    command(master, OCW3_POLL);
    expect(inb(master, PIC_COMMAND)).toBe(0);
    pulse(1);
    command(master, OCW3_POLL);
    expect(inb(master, PIC_COMMAND)).toBe(0x81);
    pulse(6);
    command(master, OCW3_POLL);
    expect(inb(master, PIC_COMMAND)).toBe(0);
  });

  it('answers at the data port too (the next RD pulse), then the data port reads IMR again', () => {
    pulse(5);
    command(master, OCW3_POLL);
    expect(inb(master, PIC_DATA)).toBe(0x85);
    expect(inb(master, PIC_DATA)).toBe(0);
  });

  it('takes precedence over a read register command in the same OCW3, which applies afterwards', () => {
    pulse(4);
    command(master, OCW3_POLL | OCW3_READ_ISR);
    expect(inb(master, PIC_COMMAND)).toBe(0x84);
    expect(inb(master, PIC_COMMAND)).toBe(0x10); // ISR
  });

  it('polls a cascade: the master answers IR2, then the slave its level', () => {
    pulse(11);
    command(master, OCW3_POLL);
    expect(inb(master, PIC_COMMAND)).toBe(0x82);
    command(slave, OCW3_POLL);
    expect(inb(slave, PIC_COMMAND)).toBe(0x83);
    expect([isr(master), isr(slave)]).toEqual([0x04, 0x08]);
    expect(irr(master)).toBe(0); // the slave has nothing more: IR2 is not left requesting
  });
});

describe('the cascade: slave INT on master IR2', () => {
  beforeEach(() => initialize());

  it('delivers a slave IRQ with the slave\'s vector, in service on both chips until both EOIs', () => {
    pulse(12);
    expect([irr(slave), irr(master)]).toEqual([0x10, 0x04]);
    expect(output.changes).toEqual([true]);
    expect(pic.acknowledge()).toBe(0x2c);
    expect(output.changes).toEqual([true, false]);
    expect([isr(slave), isr(master), irr(slave), irr(master)]).toEqual([0x10, 0x04, 0, 0]);
    command(slave, OCW2_SPECIFIC_EOI | 4); // as Linux's mask_and_ack_8259A
    command(master, OCW2_SPECIFIC_EOI | 2);
    expect([isr(slave), isr(master)]).toEqual([0, 0]);
  });

  it('ranks IRQ 8-15 between IRQ 1 and IRQ 3', () => {
    simultaneous(3, 9);
    expect(pic.acknowledge()).toBe(0x29);
    expect(pic.acknowledge()).toBeUndefined(); // IR3 waits for IR2's EOI
    pulse(1);
    expect(pic.acknowledge()).toBe(0x21);
    command(master, OCW2_EOI); // ends IR1
    command(slave, OCW2_EOI);
    command(master, OCW2_EOI); // ends IR2
    expect(pic.acknowledge()).toBe(0x23);
  });

  it('holds a slave request the slave masks off the master\'s IR2', () => {
    setMask(slave, 0x04);
    pulse(10);
    expect(irr(master)).toBe(0);
    expect(output.changes).toEqual([]);
  });

  it('drops the master\'s IR2 request when the slave\'s goes away', () => {
    pulse(10);
    expect(output.level).toBe(true);
    setMask(slave, 0x04);
    expect(irr(master)).toBe(0);
    expect(output.changes).toEqual([true, false]);
  });

  it('answers IR7 of a slave selected without a request (ICW3 naming an input a device drives)', () => {
    command(master, 0x11);
    setMask(master, 0x20);
    setMask(master, 0x20); // a slave on IR5
    setMask(master, 0x01);
    command(slave, 0x11);
    setMask(slave, 0x28);
    setMask(slave, 0x05);
    setMask(slave, 0x01);
    pulse(5);
    expect(pic.acknowledge()).toBe(0x2f);
    expect([isr(master), isr(slave)]).toEqual([0x20, 0]);
  });

  it('lets nobody answer for a slave input whose ID no slave has: the data bus floats', () => {
    command(slave, 0x11);
    setMask(slave, 0x28);
    setMask(slave, 0x03); // ID 3, but it is wired to IR2
    setMask(slave, 0x01);
    pulse(9);
    expect(pic.acknowledge()).toBe(0xff);
  });

  it('takes the slave\'s INT as a plain IR2 request when the master is single', () => {
    command(master, pic8259.ICW1_INIT | pic8259.ICW1_SNGL | pic8259.ICW1_IC4);
    setMask(master, 0x20);
    setMask(master, 0x01);
    pulse(9);
    expect(pic.acknowledge()).toBe(0x22);
  });

  it('raises IR2 again for a slave still requesting after an INTA cycle (AEOI)', () => {
    initialize(pic8259.ICW4_8086 | pic8259.ICW4_AEOI);
    simultaneous(9, 10);
    expect(pic.acknowledge()).toBe(0x29);
    expect(output.level).toBe(true);
    expect(pic.acknowledge()).toBe(0x2a);
    expect(output.level).toBe(false);
  });

  it('lets a higher slave request through while another is in service only in special fully nested mode', () => {
    pulse(12);
    pic.acknowledge();
    pulse(9);
    expect(pic.acknowledge()).toBeUndefined();

    initialize(pic8259.ICW4_8086, pic8259.ICW4_8086 | pic8259.ICW4_SFNM);
    pulse(12);
    expect(pic.acknowledge()).toBe(0x2c);
    pulse(3);
    expect(pic.acknowledge()).toBeUndefined(); // a lower master level still waits
    pulse(13);
    expect(pic.acknowledge()).toBeUndefined(); // and so does a lower slave level
    pulse(9);
    expect(pic.acknowledge()).toBe(0x29);
    expect([isr(slave), isr(master)]).toEqual([0x12, 0x04]);
  });
});

describe('edge and level triggering', () => {
  it('latches a rising edge until acknowledged, and needs a new one to request again', () => {
    initialize();
    pic.setIrq(6, true);
    pic.setIrq(6, false);
    expect(irr(master)).toBe(0x40); // latched after the line fell
    pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x26);
    command(master, OCW2_EOI);
    expect(irr(master)).toBe(0); // held high: no new edge
    expect(pic.acknowledge()).toBeUndefined();
    pic.setIrq(6, false);
    pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x26);
  });

  it('follows the level on every input with ICW1\'s LTIM', () => {
    for (const [chip, base, icw3] of [[master, 0x20, 0x04], [slave, 0x28, 0x02]] as const) {
      command(chip, 0x19);
      setMask(chip, base);
      setMask(chip, icw3);
      setMask(chip, 0x01);
    }
    pic.setIrq(6, true);
    expect(irr(master)).toBe(0x40);
    pic.setIrq(6, false);
    expect(irr(master)).toBe(0);
    expect(output.changes).toEqual([true, false]);
    pic.setIrq(6, true);
    expect(pic.acknowledge()).toBe(0x26);
    expect(irr(master)).toBe(0x40); // still asserted
    command(master, OCW2_EOI);
    expect(pic.acknowledge()).toBe(0x26); // and so it interrupts again
    pic.setIrq(14, true);
    pic.setIrq(14, false);
    expect(irr(slave)).toBe(0);
  });

  it('follows the level on the inputs the ELCR names, others staying edge-triggered', () => {
    initialize();
    pic.elcr.write(0, Uint8Array.of(0x20, 0x04)); // IRQ 5 and 10
    pic.setIrq(5, true);
    pic.setIrq(5, false);
    pulse(4);
    expect(irr(master)).toBe(0x10);
    pic.setIrq(10, true);
    expect(pic.acknowledge()).toBe(0x2a);
    command(slave, OCW2_EOI);
    command(master, OCW2_EOI);
    expect(pic.acknowledge()).toBe(0x2a); // still asserted
    pic.setIrq(10, false);
    command(slave, OCW2_EOI);
    command(master, OCW2_EOI);
    expect(pic.acknowledge()).toBe(0x24);
  });
});

describe('AEOI (ICW4 bit 1)', () => {
  it('ends each interrupt at its acknowledge, so a lower level needs no EOI to follow', () => {
    initialize(pic8259.ICW4_8086 | pic8259.ICW4_AEOI);
    pulse(3);
    expect(pic.acknowledge()).toBe(0x23);
    expect(isr(master)).toBe(0);
    pulse(5);
    expect(pic.acknowledge()).toBe(0x25);
  });
});

describe('special mask mode (OCW3 ESMM/SMM)', () => {
  beforeEach(() => initialize());

  it('lets a lower level through while a masked level is in service, and a non-specific EOI skips the masked one', () => {
    pulse(3);
    pic.acknowledge();
    pulse(5);
    expect(pic.acknowledge()).toBeUndefined();
    command(master, pic8259.OCW3_SET_SPECIAL_MASK);
    setMask(master, 0x08);
    expect(pic.acknowledge()).toBe(0x25);
    expect(isr(master)).toBe(0x28);
    command(master, OCW2_EOI);
    expect(isr(master)).toBe(0x08);
    command(master, OCW2_SPECIFIC_EOI | 3);
    expect(isr(master)).toBe(0);
  });

  it('is left by OCW3 0x48, after which a masked level in service blocks lower ones again', () => {
    command(master, pic8259.OCW3_SET_SPECIAL_MASK);
    pulse(3);
    pic.acknowledge();
    setMask(master, 0x08);
    command(master, pic8259.OCW3_CLEAR_SPECIAL_MASK);
    pulse(5);
    expect(pic.acknowledge()).toBeUndefined();
    command(master, pic8259.OCW3); // ESMM clear: SMM untouched
    expect(pic.acknowledge()).toBeUndefined();
  });
});

describe('ELCR (0x4d0-0x4d1)', () => {
  it('reads 0 at power-on, and 0 for IRQ 0, 1, 2, 8 and 13 whatever is written', () => {
    const data = new Uint8Array(2);
    pic.elcr.read(0, data);
    expect([...data]).toEqual([0, 0]);
    pic.elcr.write(0, Uint8Array.of(0xff, 0xff));
    pic.elcr.read(0, data);
    expect([...data]).toEqual([0xf8, 0xde]);
    pic.elcr.write(1, Uint8Array.of(0x02));
    expect([inb(pic.elcr, 0), inb(pic.elcr, 1)]).toEqual([0xf8, 0x02]);
  });

  it('is not reset by ICW1, and reads 0xff past its two ports', () => {
    pic.elcr.write(0, Uint8Array.of(0x08));
    initialize();
    const data = new Uint8Array(4);
    pic.elcr.read(0, data);
    expect([...data]).toEqual([0x08, 0, 0xff, 0xff]);
  });
});

describe('wide accesses, inputs and threads', () => {
  it('splits a wide access into byte cycles at ascending ports, as the ISA bus does', () => {
    initialize();
    pulse(4);
    pic.acknowledge();
    master.write(PIC_COMMAND, Uint8Array.of(OCW3_READ_ISR, 0x5a));
    const data = new Uint8Array(8);
    master.read(PIC_COMMAND, data);
    expect([...data]).toEqual([0x10, 0x5a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
    master.write(PIC_DATA, Uint8Array.of(0xa5, 0x11, 0x11, 0x11)); // bytes past the data port vanish
    expect(mask(master)).toBe(0xa5);
    expect(isr(master)).toBe(0x10);
  });

  it('ignores IRQ 2 (the slave drives it) and numbers outside 0-15', () => {
    initialize();
    for (const irq of [2, -1, 16, 1.5, Number.NaN]) pic.setIrq(irq, true);
    expect([irr(master), irr(slave)]).toEqual([0, 0]);
  });

  it('gives devices a line per IRQ', () => {
    initialize();
    pic.line(14).setLevel(true);
    expect(pic.acknowledge()).toBe(0x2e);
  });

  it('is one pair for every view over the same shared state', () => {
    const other = new Pic8259({ state });
    initialize();
    other.master.write(PIC_DATA, Uint8Array.of(0x3c));
    expect(mask(master)).toBe(0x3c);
    other.setIrq(0, true);
    expect(pic.acknowledge()).toBe(0x20);
    expect(() => new Pic8259({ state: new SharedState(PIC_STATE_WORDS - 1) })).toThrow(RangeError);
  });
});

describe('robustness', () => {
  // Any byte, with the commands and masks an OS writes often enough to reach their states.
  const byte = fc.oneof(fc.integer({ min: 0, max: 0xff }), fc.constantFrom(0x00, 0x01, 0x04, 0x11, 0x19, 0x0a, 0x0b, 0x0c, 0x68, 0x20, 0x62, 0xa0, 0xe3, 0xc5, 0x80, 0xff));
  const access = fc.record({
    device: fc.constantFrom<'master' | 'slave' | 'elcr'>('master', 'slave', 'elcr'),
    offset: fc.integer({ min: 0, max: 3 }),
    bytes: fc.constantFrom(1, 1, 1, 2, 4, 8).chain((size) => fc.array(byte, { minLength: size, maxLength: size }).map((values) => Uint8Array.from(values))),
    isWrite: fc.boolean(),
  });
  const step = fc.oneof(
    access,
    fc.record({ irq: fc.integer({ min: -1, max: 16 }), level: fc.boolean() }),
    fc.record({ irq: fc.integer({ min: 0, max: 15 }), level: fc.boolean() }),
    fc.constant('acknowledge' as const),
  );

  it('never throws, keeps its output level true to its state, and always takes the init sequence afterwards', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 150, size: 'max' }), (steps) => {
        output = new RecordingLine();
        state = new SharedState(PIC_STATE_WORDS);
        pic = new Pic8259({ output, state });
        ({ master, slave } = pic);
        for (const s of steps) {
          if (s === 'acknowledge') pic.acknowledge();
          else if ('irq' in s) pic.setIrq(s.irq, s.level);
          else if (s.isWrite) pic[s.device].write(s.offset, s.bytes);
          else pic[s.device].read(s.offset, s.bytes);
          // A copy of the state answers an INTA cycle exactly when the output is asserted.
          const copy = new SharedState(PIC_STATE_WORDS);
          new Int32Array(copy.buffer).set(new Int32Array(state.buffer));
          expect(new Pic8259({ state: copy }).acknowledge() !== undefined).toBe(output.level);
        }
        initialize();
        expect([mask(master), mask(slave), isr(master), isr(slave)]).toEqual([0, 0, 0, 0]);
        setMask(master, 0xff);
        setMask(slave, 0xff);
        expect([mask(master), mask(slave)]).toEqual([0xff, 0xff]);
        expect(output.level).toBe(false);
      }),
      { numRuns: 300 },
    );
  });
});
