/**
 * The xAPIC Local APIC model, register by register, without KVM (Intel SDM vol. 3A,
 * chapter 10). Registers are reached the way a guest reaches them, by aligned 32-bit MMIO,
 * except where a test is about the MSRs or the vCPU thread's entry points.
 */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApicBus } from '../../src/devices/apic-bus.js';
import { DeliveryMode, type ApicMessage } from '../../src/devices/apic-message.js';
import * as lapic from '../../src/devices/local-apic.js';
import {
  ATTENTION_INIT,
  ATTENTION_INTERRUPT,
  ATTENTION_NMI,
  ENABLE_GLOBAL,
  ENABLE_SOFTWARE,
  LocalApicStates,
} from '../../src/devices/local-apic-state.js';

const { LocalApic } = lapic;
const { APIC_ID, APIC_VERSION, APIC_TPR, APIC_APR, APIC_PPR, APIC_EOI, APIC_RRD, APIC_LDR, APIC_DFR, APIC_SVR } = lapic;
const { APIC_ISR, APIC_TMR, APIC_IRR, APIC_ESR, APIC_ICR_LOW, APIC_ICR_HIGH } = lapic;
const { APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERFORMANCE, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR } = lapic;
const { APIC_TIMER_INITIAL_COUNT, APIC_TIMER_CURRENT_COUNT, APIC_TIMER_DIVIDE } = lapic;
const { LVT_MASKED, SVR_SOFTWARE_ENABLE, ESR_SEND_ILLEGAL_VECTOR, ESR_RECEIVE_ILLEGAL_VECTOR } = lapic;

const LVT_OFFSETS = [APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERFORMANCE, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR];
/** The eight 32-bit words of a 256-bit register (ISR, TMR, IRR), at 16-byte strides. */
const words256 = (base: number) => Array.from({ length: 8 }, (_, i) => base + 0x10 * i);
/** The ISR/TMR/IRR word and bit of `vector`. */
const wordOf = (base: number, vector: number) => base + 0x10 * (vector >> 5);
const bitOf = (vector: number) => (1 << (vector & 31)) >>> 0;

// LVT timer modes, bits 18:17 (SDM Figure 10-8).
const ONE_SHOT = 0;
const PERIODIC = 1 << 17;
const TSC_DEADLINE = 2 << 17;
// ICR low fields (SDM Figure 10-12).
const ICR_LOGICAL = 1 << 11;
const ICR_DELIVERY_STATUS = 1 << 12;
const ICR_ASSERT = 1 << 14;
const ICR_LEVEL = 1 << 15;
const shorthandBits = (shorthand: number) => shorthand << 18;

interface SentIpi {
  source: number;
  message: ApicMessage;
  shorthand: number;
}

/** Everything a LocalApic is given, recorded. */
class Harness {
  t = 1_000_000;
  readonly taskPriority = { cr8: 0 };
  readonly ipis: SentIpi[] = [];
  readonly levelEois: number[] = [];
  /** Each time the APIC said it became able to accept interrupts: whether the bus saw it accepting then. */
  readonly acceptingNotices: boolean[] = [];
  readonly relocations: number[] = [];
  relocateAnswer = true;
  readonly reports: string[] = [];
  readonly apic: lapic.LocalApic;
  /** What the APIC was built with, for a test that builds another like it. */
  readonly options: lapic.LocalApicOptions;

  /** `ipis`: where ICR writes go; by default, recorded in `this.ipis`. */
  constructor(
    readonly states = new LocalApicStates(2),
    id = 0,
    ipis?: lapic.InterprocessorInterrupts,
  ) {
    this.options = {
      id,
      states,
      ipis: ipis ?? { sendIpi: (source, message, shorthand) => this.ipis.push({ source, message, shorthand }) },
      taskPriority: this.taskPriority,
      now: () => this.t,
      onLevelEoi: (vector) => this.levelEois.push(vector),
      onAcceptingInterrupts: () => this.acceptingNotices.push(states.accepting(id)),
      relocate: (base) => {
        this.relocations.push(base);
        return this.relocateAnswer;
      },
      report: (message) => this.reports.push(message),
    };
    this.apic = new LocalApic(this.options);
  }
}

let h: Harness;
let apic: lapic.LocalApic;
let states: LocalApicStates;

beforeEach(() => {
  h = new Harness();
  apic = h.apic;
  states = h.states;
});

/** An aligned 32-bit MMIO read, as a guest makes it. */
function read(offset: number, target = apic): number {
  const data = new Uint8Array(4);
  target.read(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}

/** An aligned 32-bit MMIO write, as a guest makes it. */
function write(offset: number, value: number, target = apic): void {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  target.write(offset, data);
}

/** An MMIO read of `size` bytes: the bytes the device filled in. */
function readBytes(offset: number, size: number, target = apic): number[] {
  const data = new Uint8Array(size).fill(0xa5);
  target.read(offset, data);
  return [...data];
}

/** SVR bit 8: software-enable, keeping the reset spurious vector 0xff. */
const enable = (target = apic) => write(APIC_SVR, SVR_SOFTWARE_ENABLE | 0xff, target);
/** What a sender on the bus does: `vector` into IRR (and TMR for level). */
const request = (vector: number, level = false, id = apic.id) => states.request(id, vector, level);
/** The vCPU takes the highest deliverable vector, as on interrupt acknowledge (SDM 10.8.4). */
function take(): number {
  const vector = apic.deliverableVector();
  if (vector >= 0) apic.acknowledge(vector);
  return vector;
}
const inIrr = (vector: number) => (read(wordOf(APIC_IRR, vector)) & bitOf(vector)) !== 0;
const inIsr = (vector: number) => (read(wordOf(APIC_ISR, vector)) & bitOf(vector)) !== 0;
const inTmr = (vector: number) => (read(wordOf(APIC_TMR, vector)) & bitOf(vector)) !== 0;
/** ESR as software reads it: write first, then read (SDM 10.5.3). */
function readEsr(): number {
  write(APIC_ESR, 0);
  return read(APIC_ESR);
}

describe('reset state (SDM 10.4.7.1, Table 10-1)', () => {
  it('has the power-up register values', () => {
    expect(read(APIC_ID)).toBe(0);
    expect(read(APIC_VERSION)).toBe(0x0005_0014);
    expect(read(APIC_TPR)).toBe(0);
    expect(read(APIC_APR)).toBe(0);
    expect(read(APIC_PPR)).toBe(0);
    expect(read(APIC_LDR)).toBe(0);
    expect(read(APIC_DFR)).toBe(0xffff_ffff);
    expect(read(APIC_SVR)).toBe(0xff);
    expect(read(APIC_ESR)).toBe(0);
    expect(read(APIC_ICR_LOW)).toBe(0);
    expect(read(APIC_ICR_HIGH)).toBe(0);
    for (const offset of LVT_OFFSETS) expect(read(offset), `LVT 0x${offset.toString(16)}`).toBe(0x0001_0000);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(0);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
    expect(read(APIC_TIMER_DIVIDE)).toBe(0);
    for (const offset of [...words256(APIC_ISR), ...words256(APIC_TMR), ...words256(APIC_IRR)]) expect(read(offset)).toBe(0);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(apic.nonArchitecturalAccesses).toBe(0);
  });

  it('has APIC ID = vCPU index << 24 (SDM 10.4.6)', () => {
    const second = new Harness(states, 1).apic;
    expect(read(APIC_ID, second)).toBe(0x0100_0000);
    expect(states.apicId(1)).toBe(1);
  });

  it('is globally enabled but software-disabled: it accepts nothing yet (SDM 10.4.7.2)', () => {
    expect(apic.globallyEnabled).toBe(true);
    expect(states.enableBits(0)).toBe(ENABLE_GLOBAL);
    expect(states.accepting(0)).toBe(false);
  });

  it('reset() sets CR8 to 0', () => {
    h.taskPriority.cr8 = 9;
    apic.reset();
    expect(h.taskPriority.cr8).toBe(0);
    expect(read(APIC_TPR)).toBe(0);
  });

  it('reads reserved and write-only registers (EOI, RRD) as 0', () => {
    for (const offset of [0x00, 0x10, 0x40, 0x70, APIC_EOI, APIC_RRD, 0x290, 0x2f0, 0x3a0, 0x3b0, 0x3f0, 0x400, 0xff0]) {
      expect(read(offset), `0x${offset.toString(16)}`).toBe(0);
    }
  });

  it('reset() (INIT) restores the power-up state from anything', () => {
    enable();
    write(APIC_TPR, 0x55);
    write(APIC_LDR, 0x0300_0000);
    write(APIC_DFR, 0);
    write(APIC_LVT_TIMER, PERIODIC | 0x40);
    write(APIC_TIMER_DIVIDE, 0xb);
    write(APIC_TIMER_INITIAL_COUNT, 100);
    request(0x50);
    take();
    request(0x60, true);
    apic.reset();
    expect(read(APIC_TPR)).toBe(0);
    expect(h.taskPriority.cr8).toBe(0);
    expect(read(APIC_SVR)).toBe(0xff);
    expect(read(APIC_LDR)).toBe(0);
    expect(read(APIC_DFR)).toBe(0xffff_ffff);
    for (const offset of LVT_OFFSETS) expect(read(offset)).toBe(LVT_MASKED);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(0);
    expect(read(APIC_TIMER_DIVIDE)).toBe(0);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(inIsr(0x50) || inIrr(0x60) || inTmr(0x60)).toBe(false);
    expect(states.accepting(0)).toBe(false);
    expect(states.processorPriority(0)).toBe(0);
  });
});

describe('read-only registers ignore writes', () => {
  it('version (0x30), PPR (0xa0) and APR (0x90)', () => {
    write(APIC_TPR, 0x20);
    for (const offset of [APIC_VERSION, APIC_PPR, APIC_APR]) write(offset, 0xffff_ffff);
    expect(read(APIC_VERSION)).toBe(0x0005_0014);
    expect(read(APIC_PPR)).toBe(0x20);
    expect(read(APIC_APR)).toBe(0x20);
  });

  it('ISR, TMR and IRR (0x100-0x270)', () => {
    enable();
    request(0x41, true);
    take();
    request(0x62, true);
    for (const offset of [...words256(APIC_ISR), ...words256(APIC_TMR), ...words256(APIC_IRR)]) write(offset, 0);
    expect(inIsr(0x41)).toBe(true);
    expect(inIrr(0x62)).toBe(true);
    expect(inTmr(0x41) && inTmr(0x62)).toBe(true);
    for (const offset of [...words256(APIC_ISR), ...words256(APIC_TMR), ...words256(APIC_IRR)]) write(offset, 0xffff_ffff);
    expect(read(wordOf(APIC_IRR, 0x62))).toBe(bitOf(0x62));
    expect(read(wordOf(APIC_ISR, 0x41))).toBe(bitOf(0x41));
    expect(read(APIC_IRR)).toBe(0);
  });

  it('the timer current count (0x390)', () => {
    write(APIC_TIMER_CURRENT_COUNT, 1234);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
    expect(apic.nextDeadline).toBe(Infinity);
  });

  it('the LVT delivery status bit (12) and LINT remote IRR bit (14)', () => {
    enable();
    for (const offset of LVT_OFFSETS) {
      write(offset, 0xffff_ffff);
      expect(read(offset) & ((1 << 12) | (1 << 14)), `LVT 0x${offset.toString(16)}`).toBe(0);
    }
  });
});

describe('ID (0x20), SDM 10.4.6', () => {
  it('keeps bits 31:24 and publishes them to the bus', () => {
    write(APIC_ID, 0xffff_ffff);
    expect(read(APIC_ID)).toBe(0xff00_0000);
    write(APIC_ID, 0x0712_3456);
    expect(read(APIC_ID)).toBe(0x0700_0000);
    expect(states.apicId(0)).toBe(7);
  });
});

describe('LDR (0xd0) and DFR (0xe0), SDM 10.6.2.2', () => {
  it('LDR keeps bits 31:24 and publishes them', () => {
    write(APIC_LDR, 0xffff_ffff);
    expect(read(APIC_LDR)).toBe(0xff00_0000);
    write(APIC_LDR, 0x2400_00ff);
    expect(read(APIC_LDR)).toBe(0x2400_0000);
    expect(states.logicalDestination(0) >>> 0).toBe(0x2400_0000);
  });

  it('DFR keeps the model, bits 31:28; bits 27:0 read as 1', () => {
    write(APIC_DFR, 0);
    expect(read(APIC_DFR)).toBe(0x0fff_ffff);
    expect(states.destinationFormat(0) >>> 0).toBe(0x0fff_ffff);
    write(APIC_DFR, 0xf000_0000);
    expect(read(APIC_DFR)).toBe(0xffff_ffff);
    write(APIC_DFR, 0x5000_1234);
    expect(read(APIC_DFR)).toBe(0x5fff_ffff);
  });
});

describe('SVR (0xf0) and software enable, SDM 10.9 and 10.4.7.2', () => {
  it('keeps bits 9:0 (vector, enable, focus checking)', () => {
    write(APIC_SVR, 0xffff_ffff);
    expect(read(APIC_SVR)).toBe(0x3ff);
    write(APIC_SVR, 0x0000_f10f);
    expect(read(APIC_SVR)).toBe(0x10f);
  });

  it('bit 8 software-enables and -disables acceptance', () => {
    enable();
    expect(states.enableBits(0)).toBe(ENABLE_GLOBAL | ENABLE_SOFTWARE);
    expect(states.accepting(0)).toBe(true);
    write(APIC_SVR, 0xff);
    expect(states.enableBits(0)).toBe(ENABLE_GLOBAL);
    expect(states.accepting(0)).toBe(false);
  });

  it('keeps every LVT entry masked while disabled, even when software clears the mask', () => {
    for (const offset of LVT_OFFSETS) {
      write(offset, 0x42);
      expect(read(offset) & LVT_MASKED, `LVT 0x${offset.toString(16)}`).toBe(LVT_MASKED);
      expect(read(offset) & 0xff).toBe(0x42);
    }
  });

  it('enabling leaves the LVT masked until software unmasks it', () => {
    enable();
    for (const offset of LVT_OFFSETS) expect(read(offset)).toBe(LVT_MASKED);
    for (const offset of LVT_OFFSETS) {
      write(offset, 0x42);
      expect(read(offset)).toBe(0x42);
    }
  });

  it('disabling masks every LVT entry and keeps the rest of each entry', () => {
    enable();
    for (const offset of LVT_OFFSETS) write(offset, 0x42);
    write(APIC_SVR, 0xff);
    for (const offset of LVT_OFFSETS) expect(read(offset)).toBe(LVT_MASKED | 0x42);
  });

  it('a disabled APIC accepts no fixed interrupt through the bus, but still NMI and INIT', () => {
    const notified: number[] = [];
    const bus = new ApicBus(states, { notify: (id) => notified.push(id), beforeEvent: () => {}, revive: () => {}, afterEvent: () => {} });
    const message = { vector: 0x40, deliveryMode: DeliveryMode.fixed, logical: false, destination: 0, levelTriggered: false };
    bus.send(message);
    bus.send({ ...message, deliveryMode: DeliveryMode.lowestPriority });
    expect(inIrr(0x40)).toBe(false);
    expect(apic.hasRequests).toBe(false);
    bus.send({ ...message, deliveryMode: DeliveryMode.nmi });
    bus.send({ ...message, deliveryMode: DeliveryMode.init });
    expect(apic.takeAttention()).toBe(ATTENTION_NMI | ATTENTION_INIT);
    enable();
    bus.send(message);
    expect(inIrr(0x40)).toBe(true);
  });

  it('a disabled APIC delivers nothing from IRR', () => {
    enable();
    request(0x40);
    write(APIC_SVR, 0xff);
    expect(apic.deliverableVector()).toBe(-1);
  });

  it('setting bit 8 tells onAcceptingInterrupts once per enable, after the bus sees it accepting', () => {
    enable();
    expect(h.acceptingNotices).toEqual([true]); // true: a message the IO APIC sends again lands
    write(APIC_SVR, 0x1f0); // enabled already: no news
    expect(h.acceptingNotices).toEqual([true]);
    write(APIC_SVR, 0x0ff);
    expect(h.acceptingNotices).toEqual([true]);
    enable();
    expect(h.acceptingNotices).toEqual([true, true]);
  });

  it('power-up, INIT, reset and software-disable never tell onAcceptingInterrupts', () => {
    apic.init();
    apic.reset();
    write(APIC_SVR, 0xff);
    expect(h.acceptingNotices).toEqual([]);
  });
});

describe('TPR (0x80) and CR8, SDM 10.8.3 and 10.8.6', () => {
  it('keeps bits 7:0 and sets CR8 to TPR[7:4]', () => {
    write(APIC_TPR, 0x5a);
    expect(read(APIC_TPR)).toBe(0x5a);
    expect(h.taskPriority.cr8).toBe(5);
    write(APIC_TPR, 0xffff_ffff);
    expect(read(APIC_TPR)).toBe(0xff);
    expect(h.taskPriority.cr8).toBe(15);
    write(APIC_TPR, 0x0f);
    expect(h.taskPriority.cr8).toBe(0);
  });

  it('reads CR8 << 4 once the guest changed CR8 behind its back (MOV to CR8)', () => {
    write(APIC_TPR, 0x5a);
    h.taskPriority.cr8 = 3;
    expect(read(APIC_TPR)).toBe(0x30);
    expect(read(APIC_PPR)).toBe(0x30);
  });

  it('keeps bits 3:0 while CR8 still matches', () => {
    write(APIC_TPR, 0x5a);
    h.taskPriority.cr8 = 5;
    expect(read(APIC_TPR)).toBe(0x5a);
  });

  it('publishes the processor priority for lowest-priority arbitration', () => {
    write(APIC_TPR, 0x70);
    expect(states.processorPriority(0)).toBe(0x70);
  });
});

describe('PPR (0xa0), SDM 10.8.3.1', () => {
  /** TPR, the vector in service (or none), and the PPR the SDM's formula gives. */
  const cases: [tpr: number, inService: number | undefined, ppr: number][] = [
    [0x00, undefined, 0x00],
    [0x35, undefined, 0x35],
    [0x35, 0x41, 0x40], // ISRV class above: PPR[7:4] = ISRV[7:4], PPR[3:0] = 0
    [0x45, 0x41, 0x45], // equal classes: TPR
    [0x5f, 0x41, 0x5f],
    [0x00, 0xfe, 0xf0],
  ];
  it.each(cases)('TPR %i, vector in service %s: PPR %i', (tpr, inService, ppr) => {
    enable();
    if (inService !== undefined) {
      request(inService);
      expect(take()).toBe(inService);
    }
    write(APIC_TPR, tpr);
    expect(read(APIC_PPR)).toBe(ppr);
    expect(apic.processorPriority()).toBe(ppr);
    expect(states.processorPriority(0)).toBe(ppr);
  });

  it('uses the highest vector in service', () => {
    enable();
    request(0x31);
    take();
    request(0x92);
    take();
    expect(read(APIC_PPR)).toBe(0x90);
    write(APIC_EOI, 0);
    expect(read(APIC_PPR)).toBe(0x30);
    expect(states.processorPriority(0)).toBe(0x30);
  });
});

describe('APR (0x90), SDM 10.6.2.4', () => {
  it('is TPR when TPR[7:4] >= IRRV[7:4] and TPR[7:4] > ISRV[7:4]', () => {
    enable();
    write(APIC_TPR, 0x35);
    expect(read(APIC_APR)).toBe(0x35);
    request(0x31);
    expect(read(APIC_APR)).toBe(0x35);
  });

  it('else the highest class of TPR, ISRV and IRRV, with bits 3:0 clear', () => {
    enable();
    write(APIC_TPR, 0x27);
    request(0x51);
    expect(read(APIC_APR)).toBe(0x50);
    take();
    expect(read(APIC_APR)).toBe(0x50);
    write(APIC_TPR, 0x57); // equal to ISRV's class: not above it
    expect(read(APIC_APR)).toBe(0x50);
  });
});

describe('interrupt delivery: IRR, ISR, EOI (SDM 10.8.3-10.8.5)', () => {
  it('offers the highest requested vector', () => {
    enable();
    expect(apic.deliverableVector()).toBe(-1);
    expect(apic.hasRequests).toBe(false);
    request(0x31);
    request(0x80);
    request(0x45);
    expect(apic.hasRequests).toBe(true);
    expect(apic.deliverableVector()).toBe(0x80);
  });

  it('offers only a vector whose class is above PPR', () => {
    enable();
    request(0x31);
    write(APIC_TPR, 0x30);
    expect(apic.deliverableVector()).toBe(-1);
    write(APIC_TPR, 0x2f);
    expect(apic.deliverableVector()).toBe(0x31);
    h.taskPriority.cr8 = 4; // MOV to CR8
    expect(apic.deliverableVector()).toBe(-1);
  });

  it('acknowledge moves the vector from IRR to ISR', () => {
    enable();
    request(0xa3);
    apic.acknowledge(0xa3);
    expect(inIrr(0xa3)).toBe(false);
    expect(inIsr(0xa3)).toBe(true);
    expect(read(wordOf(APIC_ISR, 0xa3))).toBe(bitOf(0xa3));
    expect(apic.hasRequests).toBe(false);
  });

  it('an interrupt in service blocks its own class and those below (nesting)', () => {
    enable();
    request(0x80);
    take();
    request(0x85);
    request(0x7f);
    expect(apic.deliverableVector()).toBe(-1);
    request(0x91);
    expect(take()).toBe(0x91);
    expect(apic.deliverableVector()).toBe(-1);
    write(APIC_EOI, 0);
    expect(apic.deliverableVector()).toBe(-1); // 0x80 still in service
    write(APIC_EOI, 0);
    expect(apic.deliverableVector()).toBe(0x85);
  });

  it('EOI clears the highest bit in ISR, whatever is written', () => {
    enable();
    request(0x40);
    take();
    request(0x80);
    take();
    write(APIC_EOI, 0xdead_beef);
    expect(inIsr(0x80)).toBe(false);
    expect(inIsr(0x40)).toBe(true);
    write(APIC_EOI, 0);
    expect(inIsr(0x40)).toBe(false);
    write(APIC_EOI, 0); // nothing in service: nothing happens
    expect(h.levelEois).toEqual([]);
  });

  it('EOI of a level-triggered vector (TMR) is broadcast; of an edge-triggered one is not (SDM 10.8.5)', () => {
    enable();
    request(0x50, true);
    expect(inTmr(0x50)).toBe(true);
    take();
    request(0x60, false);
    take();
    write(APIC_EOI, 0);
    expect(h.levelEois).toEqual([]);
    write(APIC_EOI, 0);
    expect(h.levelEois).toEqual([0x50]);
  });

  it('a vector may be in IRR again while in service', () => {
    enable();
    request(0x50);
    take();
    request(0x50);
    expect(inIrr(0x50) && inIsr(0x50)).toBe(true);
    expect(apic.deliverableVector()).toBe(-1);
    write(APIC_EOI, 0);
    expect(apic.deliverableVector()).toBe(0x50);
  });

  it('attention: a request raises it, takeAttention clears it and passes on only NMI and INIT', () => {
    expect(apic.hasAttention).toBe(false);
    states.raise(0, ATTENTION_INTERRUPT | ATTENTION_NMI);
    expect(apic.hasAttention).toBe(true);
    expect(apic.takeAttention()).toBe(ATTENTION_NMI);
    expect(apic.hasAttention).toBe(false);
    expect(apic.takeAttention()).toBe(0);
  });
});

describe('ESR (0x280), SDM 10.5.3', () => {
  it('latches errors on a write; reads show only what the last write latched', () => {
    enable();
    write(APIC_ICR_LOW, 0x05); // fixed, vector 5
    expect(read(APIC_ESR)).toBe(0);
    write(APIC_ESR, 0xffff_ffff); // the value written does not matter
    expect(read(APIC_ESR)).toBe(ESR_SEND_ILLEGAL_VECTOR);
    expect(read(APIC_ESR)).toBe(ESR_SEND_ILLEGAL_VECTOR);
    write(APIC_ESR, 0);
    expect(read(APIC_ESR)).toBe(0);
  });

  it('send illegal vector: a fixed or lowest-priority ICR vector below 16 is not sent', () => {
    for (const vector of [0, 15]) {
      write(APIC_ICR_LOW, vector);
      expect(readEsr()).toBe(ESR_SEND_ILLEGAL_VECTOR);
      write(APIC_ICR_LOW, (DeliveryMode.lowestPriority << 8) | vector);
      expect(readEsr()).toBe(ESR_SEND_ILLEGAL_VECTOR);
    }
    expect(h.ipis).toEqual([]);
    write(APIC_ICR_LOW, 16);
    expect(readEsr()).toBe(0);
    expect(h.ipis).toHaveLength(1);
  });

  it('NMI, INIT and SIPI vectors below 16 are no error', () => {
    for (const mode of [DeliveryMode.nmi, DeliveryMode.init, DeliveryMode.startup]) write(APIC_ICR_LOW, ICR_ASSERT | (mode << 8));
    expect(readEsr()).toBe(0);
    expect(h.ipis).toHaveLength(3);
  });

  it('receive illegal vector: a fixed interrupt below 16 from the bus, seen at takeAttention', () => {
    enable();
    const bus = new ApicBus(states, { notify: () => {}, beforeEvent: () => {}, revive: () => {}, afterEvent: () => {} });
    bus.send({ vector: 3, deliveryMode: DeliveryMode.fixed, logical: false, destination: 0, levelTriggered: false });
    expect(apic.hasRequests).toBe(false);
    expect(readEsr()).toBe(0);
    expect(apic.takeAttention()).toBe(0);
    expect(readEsr()).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('receive illegal vector: a local (LVT timer) interrupt below 16', () => {
    enable();
    write(APIC_LVT_TIMER, 0x0e);
    write(APIC_TIMER_INITIAL_COUNT, 1);
    apic.serviceTimer(h.t + 10);
    expect(apic.hasRequests).toBe(false);
    expect(readEsr()).toBe(ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('the error LVT interrupt is requested when unmasked, not when masked (SDM 10.5.3)', () => {
    enable();
    write(APIC_ICR_LOW, 0x01);
    expect(apic.hasRequests).toBe(false);
    write(APIC_LVT_ERROR, 0xe3);
    write(APIC_ICR_LOW, 0x01);
    expect(inIrr(0xe3)).toBe(true);
    expect(inTmr(0xe3)).toBe(false);
    expect(apic.deliverableVector()).toBe(0xe3);
  });

  it('an error LVT with an illegal vector records the error and does not recurse', () => {
    enable();
    write(APIC_LVT_ERROR, 0x02);
    expect(() => write(APIC_ICR_LOW, 0x01)).not.toThrow();
    expect(readEsr()).toBe(ESR_SEND_ILLEGAL_VECTOR | ESR_RECEIVE_ILLEGAL_VECTOR);
    expect(apic.hasRequests).toBe(false);
  });
});

describe('ICR (0x300, 0x310), SDM 10.6.1', () => {
  it('low keeps vector, delivery mode, destination mode, level, trigger and shorthand; delivery status reads 0', () => {
    write(APIC_ICR_LOW, 0xffff_ffff);
    expect(read(APIC_ICR_LOW)).toBe(0x000c_cfff);
    expect(read(APIC_ICR_LOW) & ICR_DELIVERY_STATUS).toBe(0);
  });

  it('high keeps the destination, bits 31:24, and sends nothing', () => {
    write(APIC_ICR_HIGH, 0xffff_ffff);
    expect(read(APIC_ICR_HIGH)).toBe(0xff00_0000);
    write(APIC_ICR_HIGH, 0x0312_3456);
    expect(read(APIC_ICR_HIGH)).toBe(0x0300_0000);
    expect(h.ipis).toEqual([]);
  });

  it('a low write sends once; reading it sends nothing', () => {
    write(APIC_ICR_HIGH, 0x0100_0000);
    write(APIC_ICR_LOW, 0x40);
    read(APIC_ICR_LOW);
    read(APIC_ICR_HIGH);
    expect(h.ipis).toHaveLength(1);
  });

  const modes = Object.entries(DeliveryMode);
  it.each(modes)('delivery mode %s reaches the bus with its message', (_name, mode) => {
    write(APIC_ICR_HIGH, 0x0300_0000);
    write(APIC_ICR_LOW, ICR_ASSERT | (mode << 8) | 0x9a);
    expect(h.ipis).toEqual([
      { source: 0, message: { vector: 0x9a, deliveryMode: mode, logical: false, destination: 3, levelTriggered: false }, shorthand: 0 },
    ]);
  });

  it('carries the destination mode and trigger mode', () => {
    write(APIC_ICR_HIGH, 0x0c00_0000);
    write(APIC_ICR_LOW, ICR_LOGICAL | ICR_ASSERT | 0x40);
    write(APIC_ICR_LOW, ICR_LEVEL | ICR_ASSERT | (DeliveryMode.init << 8));
    expect(h.ipis.map((ipi) => ipi.message)).toEqual([
      { vector: 0x40, deliveryMode: DeliveryMode.fixed, logical: true, destination: 0x0c, levelTriggered: false },
      { vector: 0, deliveryMode: DeliveryMode.init, logical: false, destination: 0x0c, levelTriggered: true },
    ]);
  });

  it.each([
    [lapic.SHORTHAND_NONE, 'no shorthand'],
    [lapic.SHORTHAND_SELF, 'self'],
    [lapic.SHORTHAND_ALL_INCLUDING_SELF, 'all including self'],
    [lapic.SHORTHAND_ALL_EXCLUDING_SELF, 'all excluding self'],
  ])('shorthand %i (%s) reaches the bus with the sender', (shorthand) => {
    const sender = new Harness(states, 1);
    write(APIC_ICR_HIGH, 0x0500_0000, sender.apic);
    write(APIC_ICR_LOW, shorthandBits(shorthand) | 0x77, sender.apic);
    expect(sender.ipis).toEqual([
      { source: 1, message: { vector: 0x77, deliveryMode: DeliveryMode.fixed, logical: false, destination: 5, levelTriggered: false }, shorthand },
    ]);
  });

  it('ignores INIT level de-assert (level 0, level-triggered), as the Pentium 4 and later do', () => {
    write(APIC_ICR_LOW, ICR_LEVEL | (DeliveryMode.init << 8));
    expect(h.ipis).toEqual([]);
    expect(read(APIC_ICR_LOW)).toBe(ICR_LEVEL | (DeliveryMode.init << 8));
    write(APIC_ICR_LOW, ICR_LEVEL | ICR_ASSERT | (DeliveryMode.init << 8));
    write(APIC_ICR_LOW, DeliveryMode.init << 8); // edge INIT, level bit 0: still an INIT
    expect(h.ipis.map((ipi) => ipi.message.deliveryMode)).toEqual([DeliveryMode.init, DeliveryMode.init]);
  });
});

describe('LVT (0x320-0x370), SDM 10.5.1 Figure 10-8', () => {
  /** The bits software may set in each entry. */
  const writable: [name: string, offset: number, mask: number][] = [
    ['timer', APIC_LVT_TIMER, 0x0007_00ff], // vector, mask, timer mode
    ['thermal', APIC_LVT_THERMAL, 0x0001_07ff], // vector, delivery mode, mask
    ['performance', APIC_LVT_PERFORMANCE, 0x0001_07ff],
    ['LINT0', APIC_LVT_LINT0, 0x0001_a7ff], // vector, delivery mode, polarity, trigger, mask
    ['LINT1', APIC_LVT_LINT1, 0x0001_a7ff],
    ['error', APIC_LVT_ERROR, 0x0001_00ff], // vector, mask
  ];
  it.each(writable)('%s keeps only its writable bits', (_name, offset, mask) => {
    enable();
    write(offset, 0xffff_ffff);
    expect(read(offset)).toBe(mask);
    write(offset, 0);
    expect(read(offset)).toBe(0);
    write(offset, 0xfffe_ffff); // all but the mask bit
    expect(read(offset)).toBe(mask & ~LVT_MASKED);
  });

  it('each entry is its own register', () => {
    enable();
    LVT_OFFSETS.forEach((offset, i) => write(offset, 0x30 + i));
    LVT_OFFSETS.forEach((offset, i) => expect(read(offset)).toBe(0x30 + i));
  });
});

describe('timer divide configuration (0x3e0), SDM 10.5.4 Figure 10-10', () => {
  it('keeps bits 3, 1 and 0', () => {
    write(APIC_TIMER_DIVIDE, 0xffff_ffff);
    expect(read(APIC_TIMER_DIVIDE)).toBe(0xb);
    write(APIC_TIMER_DIVIDE, 0x4);
    expect(read(APIC_TIMER_DIVIDE)).toBe(0);
  });

  const encodings: [bits: number, divisor: number][] = [
    [0b0000, 2],
    [0b0001, 4],
    [0b0010, 8],
    [0b0011, 16],
    [0b1000, 32],
    [0b1001, 64],
    [0b1010, 128],
    [0b1011, 1],
  ];
  it.each(encodings)('0b%s divides by %i', (bits, divisor) => {
    enable();
    write(APIC_LVT_TIMER, 0x40);
    write(APIC_TIMER_DIVIDE, bits);
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    expect(apic.nextDeadline).toBe(start + 1000 * divisor);
    h.t = start + 250 * divisor;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(750);
  });

  it('a new divisor mid-count keeps the counts left, now ticking at the new rate', () => {
    enable();
    write(APIC_LVT_TIMER, 0x40);
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 1000); // divide by 2: 2000 ns
    h.t = start + 1000;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(500);
    write(APIC_TIMER_DIVIDE, 0b0010); // divide by 8
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(500);
    expect(apic.nextDeadline).toBe(start + 1000 + 500 * 8);
    h.t += 2000;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(250);
  });

  it('a new divisor with the timer stopped arms nothing', () => {
    write(APIC_TIMER_DIVIDE, 0b1011);
    expect(apic.nextDeadline).toBe(Infinity);
  });
});

describe('timer, one-shot mode (SDM 10.5.4)', () => {
  beforeEach(() => {
    enable();
    write(APIC_LVT_TIMER, ONE_SHOT | 0x40);
  });

  it('arms at now + count × divisor ns and counts down with the clock', () => {
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(1000);
    expect(apic.nextDeadline).toBe(start + 2000);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(1000);
    h.t = start + 2;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(999);
    h.t = start + 1999;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(1);
    h.t = start + 2000;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
  });

  it('fires once at its deadline: the LVT vector into IRR, edge-triggered, and the count stays 0', () => {
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    apic.serviceTimer(start + 1999);
    expect(apic.hasRequests).toBe(false);
    apic.serviceTimer(start + 2000);
    expect(inIrr(0x40)).toBe(true);
    expect(inTmr(0x40)).toBe(false);
    expect(apic.hasAttention).toBe(true);
    expect(apic.nextDeadline).toBe(Infinity);
    h.t = start + 5000;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(1000);
    states.clearRequest(0, 0x40);
    apic.serviceTimer(start + 10_000);
    expect(apic.hasRequests).toBe(false);
  });

  it('a masked timer counts and expires, but requests nothing', () => {
    write(APIC_LVT_TIMER, LVT_MASKED | 0x40);
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 10);
    h.t = start + 10;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(5);
    apic.serviceTimer(start + 20);
    expect(apic.hasRequests).toBe(false);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
  });

  it('an initial count of 0 stops the timer', () => {
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    write(APIC_TIMER_INITIAL_COUNT, 0);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
    apic.serviceTimer(h.t + 1e9);
    expect(apic.hasRequests).toBe(false);
  });

  it('a new initial count restarts the count', () => {
    const start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    h.t = start + 1500;
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    expect(apic.nextDeadline).toBe(start + 3500);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(1000);
  });

  it('handles the largest count and divisor', () => {
    write(APIC_TIMER_DIVIDE, 0b1010);
    write(APIC_TIMER_INITIAL_COUNT, 0xffff_ffff);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(0xffff_ffff);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0xffff_ffff);
    expect(apic.nextDeadline).toBe(h.t + 0xffff_ffff * 128);
  });
});

describe('timer, periodic mode (SDM 10.5.4)', () => {
  let start: number;
  beforeEach(() => {
    enable();
    write(APIC_LVT_TIMER, PERIODIC | 0x40);
    write(APIC_TIMER_DIVIDE, 0b1011); // divide by 1: a count is a nanosecond
    start = h.t;
    write(APIC_TIMER_INITIAL_COUNT, 100);
  });

  it('fires every period', () => {
    for (let k = 1; k <= 5; k++) {
      expect(apic.nextDeadline).toBe(start + 100 * k);
      apic.serviceTimer(start + 100 * k - 1);
      expect(apic.hasRequests).toBe(false);
      apic.serviceTimer(start + 100 * k);
      expect(inIrr(0x40)).toBe(true);
      states.clearRequest(0, 0x40);
    }
  });

  it('reloads the count at each period, serviced or not', () => {
    h.t = start + 30;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(70);
    h.t = start + 225;
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(75);
    apic.serviceTimer(h.t);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(75);
  });

  it('serviced several periods late, fires once and moves to the next period boundary (coalescing)', () => {
    apic.serviceTimer(start + 350);
    expect(inIrr(0x40)).toBe(true);
    expect(apic.nextDeadline).toBe(start + 400);
    states.clearRequest(0, 0x40);
    apic.serviceTimer(start + 399);
    expect(apic.hasRequests).toBe(false);
    apic.serviceTimer(start + 400);
    expect(inIrr(0x40)).toBe(true);
    expect(apic.nextDeadline).toBe(start + 500);
  });

  it('counts every period that did not become an interrupt of its own: passed unserviced, or merged in IRR', () => {
    apic.serviceTimer(start + 350); // periods 1, 2, 3: one interrupt, two coalesced
    expect(states.coalescedCount(0, 0x40)).toBe(2);
    apic.serviceTimer(start + 400); // period 4 finds period 3's request still in IRR
    expect(states.coalescedCount(0, 0x40)).toBe(3);
    states.clearRequest(0, 0x40);
    apic.serviceTimer(start + 500); // on time, taken: nothing coalesces
    expect(states.coalescedCount(0, 0x40)).toBe(3);
    expect(states.coalescedCount(1, 0x40)).toBe(0);
  });

  it('a masked periodic timer keeps its period but requests nothing, and counts nothing as coalesced', () => {
    write(APIC_LVT_TIMER, LVT_MASKED | PERIODIC | 0x40);
    apic.serviceTimer(start + 100);
    expect(apic.hasRequests).toBe(false);
    expect(apic.nextDeadline).toBe(start + 200);
    apic.serviceTimer(start + 550);
    expect(states.coalescedCount(0, 0x40)).toBe(0);
  });

  it('an initial count of 0 stops it', () => {
    write(APIC_TIMER_INITIAL_COUNT, 0);
    expect(apic.nextDeadline).toBe(Infinity);
    apic.serviceTimer(start + 1000);
    expect(apic.hasRequests).toBe(false);
  });
});

describe('timer, TSC-deadline mode (SDM 10.5.4.1)', () => {
  beforeEach(() => enable());

  it('IA32_TSC_DEADLINE reads 0 and ignores writes outside TSC-deadline mode', () => {
    for (const mode of [ONE_SHOT, PERIODIC]) {
      write(APIC_LVT_TIMER, mode | 0x40);
      apic.writeTscDeadline(12_345n, h.t + 100);
      expect(apic.readTscDeadline()).toBe(0n);
      expect(apic.nextDeadline).toBe(Infinity);
    }
  });

  it('arms at the deadline, fires once, then reads 0', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(12_345n, h.t + 5000);
    expect(apic.readTscDeadline()).toBe(12_345n);
    expect(apic.nextDeadline).toBe(h.t + 5000);
    apic.serviceTimer(h.t + 4999);
    expect(apic.hasRequests).toBe(false);
    apic.serviceTimer(h.t + 5000);
    expect(inIrr(0x40)).toBe(true);
    expect(apic.readTscDeadline()).toBe(0n);
    expect(apic.nextDeadline).toBe(Infinity);
  });

  it('a deadline already past fires at the next service', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(1n, h.t - 10);
    apic.serviceTimer(h.t);
    expect(inIrr(0x40)).toBe(true);
  });

  it('writing 0 disarms', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(12_345n, h.t + 5000);
    apic.writeTscDeadline(0n, h.t + 5000);
    expect(apic.readTscDeadline()).toBe(0n);
    expect(apic.nextDeadline).toBe(Infinity);
  });

  it('switching out of TSC-deadline mode disarms, and switching back does not re-arm', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(12_345n, h.t + 5000);
    write(APIC_LVT_TIMER, ONE_SHOT | 0x40);
    expect(apic.nextDeadline).toBe(Infinity);
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    expect(apic.readTscDeadline()).toBe(0n);
    expect(apic.nextDeadline).toBe(Infinity);
  });

  it('switching into TSC-deadline mode disarms a running count', () => {
    write(APIC_LVT_TIMER, ONE_SHOT | 0x40);
    write(APIC_TIMER_INITIAL_COUNT, 1000);
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
  });

  it('rewriting the LVT within TSC-deadline mode (masking, a new vector) keeps it armed', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(77n, h.t + 5000);
    write(APIC_LVT_TIMER, TSC_DEADLINE | LVT_MASKED | 0x41);
    expect(apic.readTscDeadline()).toBe(77n);
    expect(apic.nextDeadline).toBe(h.t + 5000);
  });

  it('ignores initial-count writes; the current count reads 0', () => {
    write(APIC_LVT_TIMER, TSC_DEADLINE | 0x40);
    apic.writeTscDeadline(77n, h.t + 5000);
    write(APIC_TIMER_INITIAL_COUNT, 10);
    write(APIC_TIMER_DIVIDE, 0b1011);
    expect(read(APIC_TIMER_INITIAL_COUNT)).toBe(0);
    expect(read(APIC_TIMER_CURRENT_COUNT)).toBe(0);
    expect(apic.nextDeadline).toBe(h.t + 5000);
    expect(apic.readTscDeadline()).toBe(77n);
  });
});

describe('IA32_APIC_BASE (MSR 0x1b), SDM 10.4.3 and 10.4.4', () => {
  it('is 0xfee00900 (enabled, BSP) for vCPU 0 and 0xfee00800 for the others', () => {
    expect(apic.readApicBase()).toBe(0xfee0_0900n);
    expect(apic.base).toBe(0xfee0_0000);
    expect(new Harness(states, 1).apic.readApicBase()).toBe(0xfee0_0800n);
  });

  it('refuses x2APIC enable (bit 10) and reserved bits, changing nothing', () => {
    for (const value of [0xfee0_0d00n, 0xfee0_0c00n, 0xfee0_0901n, 0xfee0_0980n, 0xfee0_0b00n, (1n << 52n) | 0xfee0_0900n, (1n << 63n) | 0xfee0_0900n]) {
      expect(apic.writeApicBase(value), `0x${value.toString(16)}`).toBe(false);
    }
    expect(apic.readApicBase()).toBe(0xfee0_0900n);
    expect(h.relocations).toEqual([]);
  });

  it('starts with the BSP flag (bit 8) on vCPU 0 only, and lets software change it (read/write, SDM Figure 10-5)', () => {
    expect(apic.readApicBase()).toBe(0xfee0_0900n);
    expect(apic.bootstrapProcessor).toBe(true);
    const other = new Harness(states, 1).apic;
    expect(other.readApicBase()).toBe(0xfee0_0800n);
    expect(other.bootstrapProcessor).toBe(false);
    expect(apic.writeApicBase(0xfee0_0800n)).toBe(true);
    expect(apic.readApicBase()).toBe(0xfee0_0800n);
    expect(apic.bootstrapProcessor).toBe(false);
  });

  it('reads the configured base at reset, and keeps base and BSP flag through INIT (SDM 10.4.7.3)', () => {
    const configured = new LocalApic({ ...h.options, base: 0xfed0_0000 });
    expect(configured.readApicBase()).toBe(0xfed0_0900n);
    expect(configured.base).toBe(0xfed0_0000);
    configured.init();
    expect(configured.readApicBase()).toBe(0xfed0_0900n);
  });

  it('clearing bit 11 takes the APIC off: MMIO reads all ones, writes are ignored, IRR is dropped', () => {
    enable();
    request(0x40, true);
    write(APIC_TPR, 0x20);
    expect(apic.writeApicBase(0xfee0_0100n)).toBe(true);
    expect(apic.globallyEnabled).toBe(false);
    expect(apic.readApicBase()).toBe(0xfee0_0100n);
    expect(read(APIC_VERSION)).toBe(0xffff_ffff);
    expect(read(APIC_TPR)).toBe(0xffff_ffff);
    expect(readBytes(APIC_ID + 1, 1)).toEqual([0xff]);
    expect(readBytes(APIC_ID, 8)).toEqual(Array(8).fill(0xff));
    write(APIC_TPR, 0x70);
    write(APIC_SVR, 0x1ff);
    expect(apic.nonArchitecturalAccesses).toBe(0);
    expect(states.irrWord(0, 2) | states.tmrWord(0, 2)).toBe(0);
    expect(states.enableBits(0)).toBe(0);
    expect(apic.hasRequests).toBe(false);
    expect(apic.deliverableVector()).toBe(-1);
  });

  it('a globally disabled APIC is not on the bus', () => {
    const bus = new ApicBus(states, { notify: () => {}, beforeEvent: () => {}, revive: () => {}, afterEvent: () => {} });
    enable();
    apic.writeApicBase(0xfee0_0100n);
    bus.send({ vector: 0x40, deliveryMode: DeliveryMode.fixed, logical: false, destination: 0, levelTriggered: false });
    bus.send({ vector: 0x40, deliveryMode: DeliveryMode.nmi, logical: false, destination: 0xff, levelTriggered: false });
    expect(states.irrWord(0, 2)).toBe(0);
    expect(apic.takeAttention()).toBe(0);
  });

  it('setting bit 11 again brings the APIC back in its power-up state', () => {
    enable();
    write(APIC_TPR, 0x20);
    write(APIC_LVT_TIMER, 0x40);
    write(APIC_TIMER_INITIAL_COUNT, 100);
    apic.writeApicBase(0xfee0_0100n);
    expect(apic.writeApicBase(0xfee0_0900n)).toBe(true);
    expect(apic.globallyEnabled).toBe(true);
    expect(read(APIC_VERSION)).toBe(0x0005_0014);
    expect(read(APIC_TPR)).toBe(0);
    expect(read(APIC_SVR)).toBe(0xff);
    expect(read(APIC_LVT_TIMER)).toBe(LVT_MASKED);
    expect(apic.nextDeadline).toBe(Infinity);
    expect(states.enableBits(0)).toBe(ENABLE_GLOBAL);
  });

  it('a global enable puts it back on the bus (NMI, INIT, SIPI: onAcceptingInterrupts), fixed interrupts only after the software enable', () => {
    enable();
    apic.writeApicBase(0xfee0_0100n);
    const before = h.acceptingNotices.length;
    apic.writeApicBase(0xfee0_0900n); // back in the power-up state: software-disabled (SDM 10.4.7.1)
    expect(h.acceptingNotices).toHaveLength(before + 1);
    expect(states.accepting(0)).toBe(false);
    enable();
    expect(h.acceptingNotices).toHaveLength(before + 2);
    expect(states.accepting(0)).toBe(true);
  });

  it('relocates with the new base', () => {
    expect(apic.writeApicBase(0xfed0_0900n)).toBe(true);
    expect(h.relocations).toEqual([0xfed0_0000]);
    expect(apic.base).toBe(0xfed0_0000);
    expect(apic.readApicBase()).toBe(0xfed0_0900n);
    expect(apic.writeApicBase(0x1_0000_0900n)).toBe(true); // above 4 GiB, below MAXPHYADDR 52
    expect(h.relocations).toEqual([0xfed0_0000, 0x1_0000_0000]);
    expect(apic.readApicBase()).toBe(0x1_0000_0900n);
  });

  it('does not relocate when the base stays', () => {
    apic.writeApicBase(0xfee0_0900n);
    apic.writeApicBase(0xfee0_0100n);
    expect(h.relocations).toEqual([]);
  });

  it('a refused relocation is reported and the base stays; the rest of the write applies', () => {
    h.relocateAnswer = false;
    expect(apic.writeApicBase(0xfed0_0100n)).toBe(true);
    expect(h.relocations).toEqual([0xfed0_0000]);
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toContain('0xfed00000');
    expect(apic.base).toBe(0xfee0_0000);
    expect(apic.readApicBase()).toBe(0xfee0_0100n);
    expect(apic.globallyEnabled).toBe(false);
  });
});

describe('MMIO accesses that are not aligned 32-bit (SDM 10.4.1; the file header)', () => {
  beforeEach(() => write(APIC_ID, 0x8100_0000));

  it('aligned 32-bit accesses are not counted', () => {
    read(APIC_ID);
    write(APIC_TPR, 0);
    expect(apic.nonArchitecturalAccesses).toBe(0);
    expect(h.reports).toEqual([]);
  });

  it('reads of 1 and 2 bytes in a register\'s first four return those bytes', () => {
    expect(readBytes(APIC_ID + 3, 1)).toEqual([0x81]);
    expect(readBytes(APIC_ID, 1)).toEqual([0]);
    expect(readBytes(APIC_ID + 2, 2)).toEqual([0, 0x81]);
    expect(readBytes(APIC_VERSION, 2)).toEqual([0x14, 0]);
    expect(readBytes(APIC_VERSION + 1, 2)).toEqual([0, 0x05]);
    expect(apic.nonArchitecturalAccesses).toBe(5);
  });

  it('a 4-byte read that starts inside a register returns its remaining bytes, then 0', () => {
    expect(readBytes(APIC_VERSION + 2, 4)).toEqual([0x05, 0, 0, 0]);
    expect(readBytes(APIC_ID + 1, 4)).toEqual([0, 0, 0x81, 0]);
    expect(apic.nonArchitecturalAccesses).toBe(2);
  });

  it('an 8-byte read returns the low 32 bits and zeros', () => {
    expect(readBytes(APIC_VERSION, 8)).toEqual([0x14, 0, 0x05, 0, 0, 0, 0, 0]);
    expect(apic.nonArchitecturalAccesses).toBe(1);
  });

  it('reads of bytes 4-15 of a register return 0', () => {
    for (const within of [4, 7, 8, 12, 15]) expect(readBytes(APIC_VERSION + within, 1)).toEqual([0]);
    expect(readBytes(APIC_DFR + 4, 4)).toEqual([0, 0, 0, 0]);
    expect(apic.nonArchitecturalAccesses).toBe(6);
  });

  it('writes of 1, 2 and 8 bytes, and unaligned 4-byte writes, are ignored', () => {
    enable();
    apic.write(APIC_TPR, new Uint8Array([0x50]));
    apic.write(APIC_TPR, new Uint8Array([0x50, 0]));
    apic.write(APIC_TPR, new Uint8Array([0x50, 0, 0, 0, 0, 0, 0, 0]));
    apic.write(APIC_TPR + 4, new Uint8Array([0x50, 0, 0, 0]));
    apic.write(APIC_TPR + 1, new Uint8Array([0x50, 0, 0, 0]));
    apic.write(APIC_ICR_LOW, new Uint8Array([0x40, 0]));
    apic.write(APIC_EOI, new Uint8Array([0]));
    expect(read(APIC_TPR)).toBe(0);
    expect(h.taskPriority.cr8).toBe(0);
    expect(h.ipis).toEqual([]);
    expect(apic.nonArchitecturalAccesses).toBe(7);
  });

  it('the first one is reported, once', () => {
    readBytes(APIC_ID, 1);
    apic.write(APIC_TPR, new Uint8Array([0x50]));
    readBytes(APIC_ID, 8);
    expect(apic.nonArchitecturalAccesses).toBe(3);
    expect(h.reports).toHaveLength(1);
    expect(h.reports[0]).toContain('1-byte read');
    expect(h.reports[0]).toContain('0x20');
  });

  it('never throws for any offset in the window and any size from 1 to 8', () => {
    enable();
    write(APIC_LVT_ERROR, 0x02); // the nastiest state: an error LVT with an illegal vector
    let expected = 0;
    for (let offset = 0; offset < lapic.LOCAL_APIC_WINDOW; offset++) {
      for (let size = 1; size <= 8; size++) {
        const architectural = size === 4 && offset % 16 === 0;
        readBytes(offset, size);
        apic.write(offset, new Uint8Array(size).fill(architectural ? 0x01 : 0xff));
        if (!architectural) expected += 2;
      }
    }
    expect(apic.nonArchitecturalAccesses).toBe(expected);
    expect(h.reports).toHaveLength(1);
  });

  it('never throws for any sequence of accesses from any LVT setup (fast-check)', () => {
    const registers = [
      APIC_ID, APIC_TPR, APIC_EOI, APIC_LDR, APIC_DFR, APIC_SVR, APIC_ESR, APIC_ICR_LOW, APIC_ICR_HIGH,
      ...LVT_OFFSETS, APIC_TIMER_INITIAL_COUNT, APIC_TIMER_CURRENT_COUNT, APIC_TIMER_DIVIDE,
    ];
    /** Register values, biased towards the illegal vectors 0-15 and the interesting modes. */
    const value = fc.oneof(
      fc.integer({ min: 0, max: 0x1f }),
      fc.integer({ min: 0, max: 0x7_ffff }),
      fc.integer({ min: -0x8000_0000, max: 0x7fff_ffff }).map((v) => v >>> 0),
    );
    const access = fc.record({
      offset: fc.oneof(fc.constantFrom(...registers), fc.integer({ min: 0, max: lapic.LOCAL_APIC_WINDOW - 1 })),
      size: fc.oneof(fc.constant(4), fc.integer({ min: 1, max: 8 })),
      value,
      kind: fc.constantFrom('read', 'write', 'write', 'tick', 'take', 'request'),
      dt: fc.integer({ min: 0, max: 5000 }),
    });
    /** Where each run starts: software-enabled (or not) with every LVT entry programmed. */
    const setup = fc.record({ svr: fc.integer({ min: 0, max: 0x3ff }), lvt: fc.array(value, { minLength: 6, maxLength: 6 }) });
    fc.assert(
      fc.property(setup, fc.array(access, { maxLength: 30 }), ({ svr, lvt }, accesses) => {
        const harness = new Harness(new LocalApicStates(2));
        const device = harness.apic;
        write(APIC_SVR, svr | SVR_SOFTWARE_ENABLE, device);
        LVT_OFFSETS.forEach((offset, i) => write(offset, lvt[i] as number, device));
        write(APIC_SVR, svr, device);
        let expected = 0;
        for (const { offset, size, value, kind, dt } of accesses) {
          harness.t += dt;
          const data = new Uint8Array(size);
          if (kind === 'read') {
            device.read(offset, data);
          } else if (kind === 'write') {
            for (let i = 0; i < size; i++) data[i] = i < 4 ? (value >>> (8 * i)) & 0xff : 0;
            device.write(offset, data);
          } else if (kind === 'tick') {
            device.serviceTimer(harness.t);
          } else if (kind === 'take') {
            device.takeAttention();
            const vector = device.deliverableVector();
            if (vector >= 0) device.acknowledge(vector);
          } else {
            harness.states.request(0, value & 0xff, (value & 0x100) !== 0);
          }
          if ((kind === 'read' || kind === 'write') && (size !== 4 || offset % 16 !== 0)) expected++;
        }
        expect(device.nonArchitecturalAccesses).toBe(expected);
        expect(harness.reports.length).toBe(expected > 0 ? 1 : 0);
        expect(read(APIC_VERSION, device)).toBe(0x0005_0014);
      }),
      { numRuns: 300 },
    );
  });
});
