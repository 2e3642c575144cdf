/**
 * The APIC bus: destination matching, delivery modes and shorthands (Intel SDM vol. 3A,
 * 10.6.1 "Interrupt Command Register" and 10.6.2 "Determining IPI destination"), over the
 * shared LocalApicStates, without KVM.
 */
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { ApicBus } from '../../src/devices/apic-bus.js';
import { DeliveryMode, type ApicMessage } from '../../src/devices/apic-message.js';
import * as lapic from '../../src/devices/local-apic.js';
import {
  ATTENTION_ILLEGAL_VECTOR,
  ATTENTION_INIT,
  ATTENTION_INTERRUPT,
  ATTENTION_NMI,
  ATTENTION_STARTUP,
  ENABLE_GLOBAL,
  ENABLE_SOFTWARE,
  LocalApicStates,
} from '../../src/devices/local-apic-state.js';

const { SHORTHAND_SELF, SHORTHAND_ALL_INCLUDING_SELF, SHORTHAND_ALL_EXCLUDING_SELF, SHORTHAND_NONE } = lapic;

const VCPUS = 4;
const ALL = [0, 1, 2, 3];

let states: LocalApicStates;
let notified: number[];
/** How many NMI, INIT or SIPI deliveries hold the VM alive right now, and what each notify saw of it. */
let holds: number;
let notifiedHeld: { id: number; held: number }[];
/** Each revive of a target: whether its event was raised by then (it must be), and the holds then. */
let revived: { id: number; raised: boolean; held: number }[];
let bus: ApicBus;

beforeEach(() => {
  states = new LocalApicStates(VCPUS);
  notified = [];
  holds = 0;
  notifiedHeld = [];
  revived = [];
  bus = new ApicBus(states, {
    notify: (id) => {
      notified.push(id);
      notifiedHeld.push({ id, held: holds });
    },
    beforeEvent: () => holds++,
    revive: (id) => revived.push({ id, raised: states.attention(id) !== 0, held: holds }),
    afterEvent: () => holds--,
  });
  for (const id of ALL) softwareEnable(id);
});

/** What SVR bit 8 does to the shared state. */
const softwareEnable = (id: number) => states.setEnableBits(id, ENABLE_GLOBAL | ENABLE_SOFTWARE);
const softwareDisable = (id: number) => states.setEnableBits(id, ENABLE_GLOBAL);
/** What clearing IA32_APIC_BASE bit 11 does to the shared state. */
const globallyDisable = (id: number) => states.setEnableBits(id, 0);

function message(overrides: Partial<ApicMessage> = {}): ApicMessage {
  return { vector: 0x40, deliveryMode: DeliveryMode.fixed, logical: false, destination: 0, levelTriggered: false, ...overrides };
}
const physical = (destination: number, overrides: Partial<ApicMessage> = {}) => message({ destination, ...overrides });
const logical = (destination: number, overrides: Partial<ApicMessage> = {}) => message({ destination, logical: true, ...overrides });

const hasVector = (id: number, vector: number) => ((states.irrWord(id, vector >> 5) >>> (vector & 31)) & 1) === 1;
const hasLevel = (id: number, vector: number) => ((states.tmrWord(id, vector >> 5) >>> (vector & 31)) & 1) === 1;
/** The vCPUs with `vector` in IRR. */
const requested = (vector = 0x40) => ALL.filter((id) => hasVector(id, vector));
/** The vCPUs with anything raised in their attention word, taking it. */
/** Each APIC's NMI, INIT and illegal-vector attention, taken; start-ups stay latched for startups(). */
const attention = () => ALL.map((id) => states.takeAttention(id, ATTENTION_STARTUP));
/** The start-up IPIs latched, per target: [id, vector]. */
const startups = () => ALL.filter((id) => states.attention(id) & ATTENTION_STARTUP).map((id) => [id, states.startupVector(id)]);
/** LDR bits 31:24. */
const setLogicalId = (id: number, logicalId: number) => states.setLogicalDestination(id, logicalId << 24);
const clusterModel = (id: number) => states.setDestinationFormat(id, 0x0fff_ffff);

describe('physical destination mode (SDM 10.6.2.1)', () => {
  it('reaches the APIC whose ID matches', () => {
    bus.send(physical(2));
    expect(requested()).toEqual([2]);
    expect(notified).toEqual([2]);
  });

  it('matches the ID register, not the vCPU index', () => {
    states.setIdRegister(1, 0x0700_0000);
    bus.send(physical(1));
    expect(requested()).toEqual([]);
    bus.send(physical(7));
    expect(requested()).toEqual([1]);
  });

  it('reaches nobody when no ID matches', () => {
    bus.send(physical(9));
    expect(requested()).toEqual([]);
    expect(notified).toEqual([]);
  });

  it('0xff is a broadcast', () => {
    bus.send(physical(0xff));
    expect(requested()).toEqual(ALL);
    expect(notified).toEqual(ALL);
  });
});

describe('logical destination mode, flat model (SDM 10.6.2.2)', () => {
  beforeEach(() => ALL.forEach((id) => setLogicalId(id, 1 << id)));

  it('reaches every APIC whose LDR shares a bit with the destination', () => {
    bus.send(logical(0x05));
    expect(requested()).toEqual([0, 2]);
    expect(notified).toEqual([0, 2]);
  });

  it('an APIC may answer to several bits, and several APICs to one', () => {
    setLogicalId(3, 0x03);
    bus.send(logical(0x02));
    expect(requested()).toEqual([1, 3]);
  });

  it('destination 0 and an LDR of 0 match nothing', () => {
    bus.send(logical(0));
    setLogicalId(0, 0);
    bus.send(logical(0xf0));
    expect(requested()).toEqual([]);
  });

  it('0xff is a broadcast, whatever the LDRs', () => {
    setLogicalId(2, 0);
    bus.send(logical(0xff));
    expect(requested()).toEqual(ALL);
  });

  it('a physical message does not look at LDR', () => {
    bus.send(physical(0x04));
    expect(requested()).toEqual([]);
  });
});

describe('logical destination mode, cluster model (SDM 10.6.2.2)', () => {
  beforeEach(() => {
    ALL.forEach(clusterModel);
    setLogicalId(0, 0x11); // cluster 1, member bit 0
    setLogicalId(1, 0x12); // cluster 1, member bit 1
    setLogicalId(2, 0x21); // cluster 2, member bit 0
    setLogicalId(3, 0x28); // cluster 2, member bit 3
  });

  it('bits 7:4 name the cluster, bits 3:0 the members', () => {
    bus.send(logical(0x13));
    expect(requested()).toEqual([0, 1]);
    bus.send(logical(0x29, { vector: 0x50 }));
    expect(requested(0x50)).toEqual([2, 3]);
    bus.send(logical(0x21, { vector: 0x60 }));
    expect(requested(0x60)).toEqual([2]);
  });

  it('reaches no other cluster, and no member outside the bits', () => {
    bus.send(logical(0x31));
    bus.send(logical(0x14));
    bus.send(logical(0x10));
    expect(requested()).toEqual([]);
  });

  it('0xff is a broadcast', () => {
    bus.send(logical(0xff));
    expect(requested()).toEqual(ALL);
  });

  it('each APIC is matched under its own DFR model', () => {
    states.setDestinationFormat(3, 0xffff_ffff); // flat: LDR 0x28 answers to bit 3 or bit 5
    bus.send(logical(0x08));
    expect(requested()).toEqual([3]);
  });
});

describe('shorthands (SDM 10.6.1, Figure 10-12)', () => {
  it('self reaches only the sender, whatever the destination', () => {
    bus.sendIpi(2, physical(0), SHORTHAND_SELF);
    expect(requested()).toEqual([2]);
    expect(notified).toEqual([2]);
  });

  it('all including self reaches every APIC', () => {
    bus.sendIpi(2, physical(0), SHORTHAND_ALL_INCLUDING_SELF);
    expect(requested()).toEqual(ALL);
  });

  it('all excluding self reaches every APIC but the sender', () => {
    bus.sendIpi(2, physical(2), SHORTHAND_ALL_EXCLUDING_SELF);
    expect(requested()).toEqual([0, 1, 3]);
    expect(notified).toEqual([0, 1, 3]);
  });

  it('no shorthand uses the destination', () => {
    bus.sendIpi(2, physical(1), SHORTHAND_NONE);
    expect(requested()).toEqual([1]);
    bus.sendIpi(2, logical(0, { vector: 0x50 }), SHORTHAND_NONE);
    expect(requested(0x50)).toEqual([]);
  });

  it('the broadcast shorthands do not reach a globally disabled APIC (SDM 10.4.3)', () => {
    globallyDisable(1);
    bus.sendIpi(0, physical(0, { deliveryMode: DeliveryMode.init }), SHORTHAND_ALL_EXCLUDING_SELF);
    bus.sendIpi(0, physical(0, { deliveryMode: DeliveryMode.startup, vector: 0x9a }), SHORTHAND_ALL_EXCLUDING_SELF);
    bus.sendIpi(0, physical(0, { deliveryMode: DeliveryMode.nmi }), SHORTHAND_ALL_INCLUDING_SELF);
    expect(attention()).toEqual([ATTENTION_NMI, 0, ATTENTION_INIT | ATTENTION_NMI, ATTENTION_INIT | ATTENTION_NMI]);
    expect(startups()).toEqual([
      [2, 0x9a],
      [3, 0x9a],
    ]);
  });
});

describe('acceptance: the enable bits (SDM 10.4.3, 10.4.7.2)', () => {
  it('a software-disabled APIC drops fixed interrupts', () => {
    softwareDisable(1);
    bus.send(physical(0xff));
    expect(requested()).toEqual([0, 2, 3]);
    expect(notified).toEqual([0, 2, 3]);
  });

  it('a globally disabled APIC is not on the bus at all', () => {
    globallyDisable(2);
    bus.send(physical(0xff, { deliveryMode: DeliveryMode.nmi }));
    bus.send(physical(2, { deliveryMode: DeliveryMode.init }));
    bus.send(physical(2, { deliveryMode: DeliveryMode.startup }));
    expect(attention()).toEqual([ATTENTION_NMI, ATTENTION_NMI, 0, ATTENTION_NMI]);
    expect(startups()).toEqual([]);
  });

  it('a software-disabled APIC still takes NMI, INIT and start-up', () => {
    softwareDisable(1);
    bus.send(physical(1, { deliveryMode: DeliveryMode.nmi }));
    bus.send(physical(1, { deliveryMode: DeliveryMode.init }));
    bus.send(physical(1, { deliveryMode: DeliveryMode.startup, vector: 0x10 }));
    expect(startups()).toEqual([[1, 0x10]]);
    expect(states.takeAttention(1)).toBe(ATTENTION_NMI | ATTENTION_INIT | ATTENTION_STARTUP);
  });
});

describe('fixed delivery (SDM 10.6.1, 10.8.4)', () => {
  it('puts the vector in IRR and raises the target\'s attention', () => {
    bus.send(physical(3, { vector: 0xec }));
    expect(hasVector(3, 0xec)).toBe(true);
    expect(hasLevel(3, 0xec)).toBe(false);
    expect(states.takeAttention(3)).toBe(ATTENTION_INTERRUPT);
  });

  it('a level-triggered message sets TMR; an edge-triggered one clears it', () => {
    bus.send(physical(1, { vector: 0x61, levelTriggered: true }));
    expect(hasVector(1, 0x61) && hasLevel(1, 0x61)).toBe(true);
    states.clearRequest(1, 0x61);
    bus.send(physical(1, { vector: 0x61 }));
    expect(hasVector(1, 0x61)).toBe(true);
    expect(hasLevel(1, 0x61)).toBe(false);
  });

  it('a vector below 16 is not requested: the target sets ESR receive illegal vector (SDM 10.5.3)', () => {
    bus.send(physical(1, { vector: 0x0f }));
    expect(requested(0x0f)).toEqual([]);
    expect(notified).toEqual([1]);
    expect(states.takeAttention(1)).toBe(ATTENTION_ILLEGAL_VECTOR);
  });

  it('notifies each accepted target once per message', () => {
    ALL.forEach((id) => setLogicalId(id, 1 << id));
    bus.send(logical(0x0b));
    bus.send(physical(2, { vector: 0x41 }));
    expect(notified).toEqual([0, 1, 3, 2]);
  });
});

describe('lowest-priority delivery (SDM 10.6.2.4)', () => {
  const lowest = (destination = 0xff, overrides: Partial<ApicMessage> = {}) =>
    logical(destination, { deliveryMode: DeliveryMode.lowestPriority, ...overrides });
  beforeEach(() => ALL.forEach((id) => setLogicalId(id, 1 << id)));

  it('goes to the one target with the lowest processor priority', () => {
    [0x30, 0x10, 0x20, 0x40].forEach((ppr, id) => states.setProcessorPriority(id, ppr));
    bus.send(lowest());
    expect(requested()).toEqual([1]);
    expect(notified).toEqual([1]);
  });

  it('chooses only among the destination', () => {
    [0x30, 0x10, 0x20, 0x40].forEach((ppr, id) => states.setProcessorPriority(id, ppr));
    bus.send(lowest(0x09));
    expect(requested()).toEqual([0]);
  });

  it('breaks a tie with the lowest APIC ID', () => {
    [0x30, 0x20, 0x20, 0x20].forEach((ppr, id) => states.setProcessorPriority(id, ppr));
    bus.send(lowest());
    expect(requested()).toEqual([1]);
  });

  it('breaks a tie by APIC ID even when software changed the IDs', () => {
    states.setIdRegister(1, 0x0900_0000);
    states.setIdRegister(2, 0x0500_0000);
    [0x30, 0x20, 0x20, 0x30].forEach((ppr, id) => states.setProcessorPriority(id, ppr));
    bus.send(lowest());
    expect(requested()).toEqual([2]);
  });

  it('passes over software-disabled APICs, however low their priority', () => {
    [0x30, 0x00, 0x20, 0x40].forEach((ppr, id) => states.setProcessorPriority(id, ppr));
    softwareDisable(1);
    bus.send(lowest());
    expect(requested()).toEqual([2]);
  });

  it('reaches nobody when no target accepts', () => {
    ALL.forEach(softwareDisable);
    bus.send(lowest());
    expect(requested()).toEqual([]);
    expect(notified).toEqual([]);
  });

  it('works in physical mode too', () => {
    bus.send(physical(3, { deliveryMode: DeliveryMode.lowestPriority }));
    expect(requested()).toEqual([3]);
  });
});

describe('acceptance count and undelivered messages', () => {
  beforeEach(() => ALL.forEach((id) => setLogicalId(id, 1 << id)));
  const lowest = (destination: number) => logical(destination, { deliveryMode: DeliveryMode.lowestPriority });

  it('send returns how many APICs accepted a fixed or lowest-priority message', () => {
    expect(bus.send(physical(2))).toBe(1);
    expect(bus.send(physical(0xff))).toBe(4);
    expect(bus.send(logical(0x0b))).toBe(3);
    expect(bus.send(lowest(0x0f))).toBe(1);
    softwareDisable(1);
    globallyDisable(3);
    expect(bus.send(physical(0xff))).toBe(2);
    expect(states.undeliveredCount()).toBe(0);
  });

  it('returns 0 and counts the message when none accepts: no destination, all disabled, or lowest priority with no taker', () => {
    expect(bus.send(physical(9))).toBe(0);
    expect(bus.send(logical(0))).toBe(0);
    softwareDisable(2);
    expect(bus.send(physical(2))).toBe(0);
    expect(bus.send(lowest(0x04))).toBe(0);
    globallyDisable(3);
    expect(bus.send(physical(3, { levelTriggered: true }))).toBe(0);
    expect(requested()).toEqual([]);
    expect(states.undeliveredCount()).toBe(5);
  });

  it('a fixed vector below 16 is not accepted: the target records the error and no EOI will follow', () => {
    expect(bus.send(physical(1, { vector: 0x0f, levelTriggered: true }))).toBe(0);
    expect(states.takeAttention(1)).toBe(ATTENTION_ILLEGAL_VECTOR);
    expect(states.undeliveredCount()).toBe(1);
  });

  it('NMI, INIT and start-up are accepted by every target on the bus, software-disabled or not; SMI and ExtINT by none', () => {
    softwareDisable(0);
    expect(bus.send(physical(0xff, { deliveryMode: DeliveryMode.nmi }))).toBe(4);
    expect(bus.send(physical(0, { deliveryMode: DeliveryMode.init }))).toBe(1);
    expect(bus.send(physical(0xff, { deliveryMode: DeliveryMode.startup, vector: 0x9a }))).toBe(4);
    expect(states.undeliveredCount()).toBe(0);
    expect(bus.send(physical(0, { deliveryMode: DeliveryMode.smi }))).toBe(0);
    expect(bus.send(physical(0, { deliveryMode: DeliveryMode.extInt }))).toBe(0);
    expect(states.undeliveredCount()).toBe(2);
  });

  it('counts IPIs no APIC accepted, whatever the shorthand', () => {
    softwareDisable(2);
    bus.sendIpi(2, physical(0), SHORTHAND_SELF);
    ALL.forEach(softwareDisable);
    bus.sendIpi(0, physical(0), SHORTHAND_ALL_INCLUDING_SELF);
    bus.sendIpi(0, physical(1), SHORTHAND_NONE);
    bus.sendIpi(0, physical(0, { deliveryMode: DeliveryMode.nmi }), SHORTHAND_ALL_EXCLUDING_SELF); // NMI: still taken
    expect(states.undeliveredCount()).toBe(3);
  });

  it('keeps the count across resets of the APICs', () => {
    bus.send(physical(9));
    ALL.forEach((id) => states.reset(id));
    expect(states.undeliveredCount()).toBe(1);
    expect(new LocalApicStates(VCPUS, states.buffer).undeliveredCount()).toBe(1); // and every thread sees it
  });
});

describe('NMI, INIT, start-up, SMI and ExtINT (SDM 10.6.1)', () => {
  it('NMI raises the targets\' NMI attention and notifies them', () => {
    bus.send(logical(0xff, { deliveryMode: DeliveryMode.nmi }));
    expect(attention()).toEqual(ALL.map(() => ATTENTION_NMI));
    expect(notified).toEqual(ALL);
    expect(requested()).toEqual([]);
  });

  it('INIT raises the target\'s INIT attention and notifies it', () => {
    bus.send(physical(2, { deliveryMode: DeliveryMode.init, vector: 0 }));
    expect(attention()).toEqual([0, 0, ATTENTION_INIT, 0]);
    expect(notified).toEqual([2]);
  });

  it('a LocalApic hands NMI and INIT to its vCPU from takeAttention', () => {
    const apic = new lapic.LocalApic({
      id: 1,
      states,
      ipis: bus,
      taskPriority: { cr8: 0 },
      now: () => 0,
      onLevelEoi: () => {},
      onAcceptingInterrupts: () => {},
      relocate: () => true,
      report: () => {},
    });
    bus.send(physical(1, { deliveryMode: DeliveryMode.nmi }));
    bus.send(physical(1, { deliveryMode: DeliveryMode.init }));
    expect(apic.hasAttention).toBe(true);
    expect(apic.takeAttention()).toBe(ATTENTION_NMI | ATTENTION_INIT);
    expect(apic.hasAttention).toBe(false);
  });

  it('start-up is latched in each target with its vector, whatever the target is doing (SDM 8.4.4.1)', () => {
    bus.send(physical(0xff, { deliveryMode: DeliveryMode.startup, vector: 0x9a }));
    expect(startups()).toEqual(ALL.map((id) => [id, 0x9a]));
    expect(requested(0x9a)).toEqual([]);
    expect(attention()).toEqual([0, 0, 0, 0]);
    expect(notified).toEqual(ALL);
  });

  it('holds the VM alive while an NMI, INIT or SIPI is sent, and revives each target after raising its event, before notifying it', () => {
    bus.send(physical(1, { deliveryMode: DeliveryMode.nmi }));
    bus.send(physical(2, { deliveryMode: DeliveryMode.init }));
    bus.send(physical(3, { deliveryMode: DeliveryMode.startup, vector: 0x10 }));
    bus.send(physical(0, { vector: 0x40 })); // a fixed interrupt cannot end a halt with IF = 0
    expect(notifiedHeld).toEqual([
      { id: 1, held: 1 },
      { id: 2, held: 1 },
      { id: 3, held: 1 },
      { id: 0, held: 0 },
    ]);
    expect(revived).toEqual([
      { id: 1, raised: true, held: 1 },
      { id: 2, raised: true, held: 1 },
      { id: 3, raised: true, held: 1 },
    ]);
    expect(holds).toBe(0);
  });

  it('a later SIPI replaces an earlier one\'s vector', () => {
    bus.send(physical(1, { deliveryMode: DeliveryMode.startup, vector: 0x10 }));
    bus.send(physical(1, { deliveryMode: DeliveryMode.startup, vector: 0x20 }));
    expect(startups()).toEqual([[1, 0x20]]);
  });

  it('SMI, ExtINT and the reserved modes reach nobody', () => {
    for (const deliveryMode of [DeliveryMode.smi, DeliveryMode.extInt, 3]) bus.send(physical(0xff, { deliveryMode }));
    expect(requested()).toEqual([]);
    expect(attention()).toEqual([0, 0, 0, 0]);
    expect(notified).toEqual([]);
    expect(startups()).toEqual([]);
  });
});

describe('end to end: a Local APIC\'s ICR over the bus', () => {
  function makeApic(id: number): lapic.LocalApic {
    return new lapic.LocalApic({
      id,
      states,
      ipis: bus,
      taskPriority: { cr8: 0 },
      now: () => 0,
      onLevelEoi: () => {},
      onAcceptingInterrupts: () => {},
      relocate: () => true,
      report: () => {},
    });
  }
  function write(apic: lapic.LocalApic, offset: number, value: number): void {
    const data = new Uint8Array(4);
    new DataView(data.buffer).setUint32(0, value >>> 0, true);
    apic.write(offset, data);
  }
  function read(apic: lapic.LocalApic, offset: number): number {
    const data = new Uint8Array(4);
    apic.read(offset, data);
    return new DataView(data.buffer).getUint32(0, true);
  }

  let apics: lapic.LocalApic[];
  beforeEach(() => {
    apics = ALL.map(makeApic);
    for (const apic of apics) write(apic, lapic.APIC_SVR, 0x1ff);
  });

  it('a fixed IPI is offered to the target vCPU', () => {
    write(apics[0]!, lapic.APIC_ICR_HIGH, 0x0300_0000);
    write(apics[0]!, lapic.APIC_ICR_LOW, 0x0000_40fd);
    expect(apics[3]!.deliverableVector()).toBe(0xfd);
    expect(notified).toEqual([3]);
  });

  it('a self IPI is offered to the sender', () => {
    write(apics[2]!, lapic.APIC_ICR_LOW, (SHORTHAND_SELF << 18) | 0x41);
    expect(apics[2]!.deliverableVector()).toBe(0x41);
    expect(apics.map((apic) => apic.hasRequests)).toEqual([false, false, true, false]);
  });

  it('a fixed interrupt below 16 sets the target\'s ESR receive illegal vector after takeAttention', () => {
    bus.send(physical(1, { vector: 7 }));
    write(apics[1]!, lapic.APIC_ESR, 0);
    expect(read(apics[1]!, lapic.APIC_ESR)).toBe(0);
    apics[1]!.takeAttention();
    write(apics[1]!, lapic.APIC_ESR, 0);
    expect(read(apics[1]!, lapic.APIC_ESR)).toBe(lapic.ESR_RECEIVE_ILLEGAL_VECTOR);
  });

  it('lowest priority follows each APIC\'s published PPR (TPR writes)', () => {
    for (const [id, tpr] of [0x50, 0x40, 0x20, 0x60].entries()) write(apics[id]!, lapic.APIC_TPR, tpr);
    bus.send(physical(0xff, { deliveryMode: DeliveryMode.lowestPriority }));
    expect(requested()).toEqual([2]);
  });

  it('INIT then SIPI, as an OS starts an AP (SDM 8.4.4.1)', () => {
    write(apics[0]!, lapic.APIC_ICR_HIGH, 0x0100_0000);
    write(apics[0]!, lapic.APIC_ICR_LOW, 0x0000_c500); // INIT, level assert
    write(apics[0]!, lapic.APIC_ICR_LOW, 0x0000_8500); // INIT level de-assert: ignored
    write(apics[0]!, lapic.APIC_ICR_LOW, 0x0000_4608); // SIPI, page 8
    expect(startups()).toEqual([[1, 0x08]]);
    expect(apics[1]!.takeAttention()).toBe(ATTENTION_INIT | ATTENTION_STARTUP);
    expect(apics[1]!.startupVector).toBe(0x08);
  });
});

describe('an APIC that INIT resets stays on the bus (SDM 10.4.7.3: INIT keeps the APIC ID)', () => {
  it('at every step of its reset, a SIPI to its ID still reaches it, also for an ID software gave it', () => {
    states.setIdRegister(2, 7 << 24);
    const seen: { enable: number; apicId: number }[] = [];
    const original = Atomics.store;
    const store = vi.spyOn(Atomics, 'store').mockImplementation((...args: Parameters<typeof Atomics.store>) => {
      const result = original(...args);
      seen.push({ enable: states.enableBits(2), apicId: states.apicId(2) });
      return result;
    });
    try {
      states.reset(2, states.idRegister(2));
    } finally {
      store.mockRestore();
    }
    expect(seen.length).toBeGreaterThan(0);
    for (const step of seen) {
      expect(step.enable & ENABLE_GLOBAL).toBe(ENABLE_GLOBAL);
      expect(step.apicId).toBe(7);
    }
    bus.sendIpi(0, message({ deliveryMode: DeliveryMode.startup, vector: 0x08, destination: 7 }), SHORTHAND_NONE);
    expect(states.attention(2) & ATTENTION_STARTUP).toBe(ATTENTION_STARTUP);
    expect(states.startupVector(2)).toBe(0x08);
  });
});

describe('vCPUs not plugged in (libvirt\'s <vcpu current>): off the bus', () => {
  it('all vCPUs are plugged in at first', () => {
    expect(states.pluggedCount()).toBe(VCPUS);
  });

  it('a vCPU from the plugged count up takes no message: physical, logical, broadcast or shorthand, INIT or SIPI', () => {
    states.setPluggedCount(2);
    for (const id of ALL) setLogicalId(id, 1 << id);
    expect(bus.send(physical(3))).toBe(0);
    bus.send(logical(0xff));
    bus.send(physical(0xff, { vector: 0x41 }));
    bus.sendIpi(0, message({ vector: 0x42 }), SHORTHAND_ALL_EXCLUDING_SELF);
    expect([requested(0x40), requested(0x41), requested(0x42)]).toEqual([[0, 1], [0, 1], [1]]);
    bus.sendIpi(0, physical(3, { deliveryMode: DeliveryMode.init, vector: 0 }), SHORTHAND_NONE);
    bus.sendIpi(0, message({ deliveryMode: DeliveryMode.startup, vector: 0x9a }), SHORTHAND_ALL_EXCLUDING_SELF);
    expect(startups()).toEqual([[1, 0x9a]]);
    expect(attention()).toEqual([ATTENTION_INTERRUPT, ATTENTION_INTERRUPT, 0, 0]);
  });

  it('a vCPU plugged in later takes messages again', () => {
    states.setPluggedCount(1);
    expect(bus.send(physical(1))).toBe(0);
    states.setPluggedCount(2);
    expect(bus.send(physical(1))).toBe(1);
  });
});
