/** The 82093AA IO APIC model, register by register, then pin by pin (82093AA data sheet, section 3). */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { DeliveryMode, type ApicMessage } from '../../src/devices/apic-message.js';
import * as ioapic from '../../src/devices/io-apic.js';
import { SharedState } from '../../src/devices/shared-state.js';

const { IoApic, IOREGSEL, IOWIN, IOAPICID, IOAPICVER, IOAPICARB, IO_APIC_PIN_COUNT } = ioapic;
const { IOREDTBL_MASKED, IOREDTBL_LEVEL_TRIGGERED, IOREDTBL_REMOTE_IRR, IOREDTBL_LOGICAL } = ioapic;

let sent: ApicMessage[];
let device: ioapic.IoApic;

beforeEach(() => {
  sent = [];
  device = new IoApic({ sink: { send: (message) => sent.push(message) } });
});

function word(value: number): Uint8Array {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  return data;
}

function readWord(apic: ioapic.IoApic, offset: number): number {
  const data = new Uint8Array(4);
  apic.read(offset, data);
  return new DataView(data.buffer).getUint32(0, true);
}

/** A register read and write as an OS makes them: IOREGSEL, then IOWIN, both 32 bits. */
function readRegister(index: number, apic = device): number {
  apic.write(IOREGSEL, word(index));
  return readWord(apic, IOWIN);
}

function writeRegister(index: number, value: number, apic = device): void {
  apic.write(IOREGSEL, word(index));
  apic.write(IOWIN, word(value));
}

const low = (pin: number) => ioapic.IOREDTBL_FIRST + 2 * pin;
const high = (pin: number) => ioapic.IOREDTBL_FIRST + 2 * pin + 1;

/** Programs pin `pin`'s entry: the low half `bits`, destination `destination`. */
function route(pin: number, bits: number, destination = 0, apic = device): void {
  writeRegister(high(pin), destination << ioapic.IOREDTBL_DESTINATION_SHIFT, apic);
  writeRegister(low(pin), bits, apic);
}

const fixed = (vector: number, overrides: Partial<ApicMessage> = {}): ApicMessage => ({
  vector,
  deliveryMode: DeliveryMode.fixed,
  logical: false,
  destination: 0,
  levelTriggered: false,
  ...overrides,
});
const level = (vector: number) => fixed(vector, { levelTriggered: true });

describe('reset state (a zeroed shared state)', () => {
  it('has ID 0, every entry masked with all else 0, and IOREGSEL 0', () => {
    expect(readWord(device, IOREGSEL)).toBe(0);
    expect(readRegister(IOAPICID)).toBe(0);
    for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
      expect(readRegister(low(pin))).toBe(IOREDTBL_MASKED);
      expect(readRegister(high(pin))).toBe(0);
    }
  });

  it('sends nothing for asserted pins until an entry is unmasked', () => {
    for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) device.setPinLevel(pin, true);
    expect(sent).toEqual([]);
  });
});

describe('IOREGSEL (offset 0x00)', () => {
  it('keeps the register index, bits 7:0, of a 32-bit write', () => {
    device.write(IOREGSEL, word(0x1234_5601));
    expect(readWord(device, IOREGSEL)).toBe(0x01);
    expect(readWord(device, IOWIN)).toBe(0x0017_0011); // IOAPICVER is selected
  });

  it('accepts a byte write and a byte read of the index', () => {
    device.write(IOREGSEL, new Uint8Array([IOAPICVER]));
    const data = new Uint8Array(1);
    device.read(IOREGSEL, data);
    expect(data[0]).toBe(IOAPICVER);
    expect(readWord(device, IOWIN)).toBe(0x0017_0011);
    expect(device.ignoredAccesses).toBe(0);
  });
});

describe('IOAPICID (index 0x00)', () => {
  it('stores bits 27:24 only', () => {
    writeRegister(IOAPICID, 0xffff_ffff);
    expect(readRegister(IOAPICID)).toBe(0x0f00_0000);
    writeRegister(IOAPICID, 0x0500_0000);
    expect(readRegister(IOAPICID)).toBe(0x0500_0000);
  });
});

describe('IOAPICVER (index 0x01)', () => {
  it('reads version 0x11 with 23 as the highest entry, and ignores writes', () => {
    expect(readRegister(IOAPICVER)).toBe((23 << ioapic.IOAPICVER_MAX_ENTRY_SHIFT) | ioapic.IO_APIC_VERSION);
    expect(readRegister(IOAPICVER)).toBe(0x0017_0011);
    writeRegister(IOAPICVER, 0);
    expect(readRegister(IOAPICVER)).toBe(0x0017_0011);
  });
});

describe('IOAPICARB (index 0x02)', () => {
  it('reads the APIC ID in bits 27:24 and ignores writes', () => {
    writeRegister(IOAPICID, 0x0a00_0000);
    expect(readRegister(IOAPICARB)).toBe(0x0a00_0000);
    writeRegister(IOAPICARB, 0x0300_0000);
    expect(readRegister(IOAPICARB)).toBe(0x0a00_0000);
    expect(readRegister(IOAPICID)).toBe(0x0a00_0000);
  });
});

describe('unknown register indices', () => {
  it('read 0 and ignore writes, without touching other registers', () => {
    writeRegister(IOAPICID, 0x0200_0000);
    const unknown = [0x03, 0x0f, 0x40, 0x41, 0x80, 0xff];
    for (const index of unknown) writeRegister(index, 0xffff_ffff);
    for (const index of unknown) expect(readRegister(index)).toBe(0);
    expect(readRegister(IOAPICID)).toBe(0x0200_0000);
    expect(readRegister(low(23))).toBe(IOREDTBL_MASKED);
    expect(sent).toEqual([]);
  });
});

describe('IOREDTBL (indices 0x10-0x3f)', () => {
  it('stores the writable low bits; Delivery Status, Remote IRR and reserved 31:17 read 0', () => {
    writeRegister(low(0), 0xffff_ffff);
    expect(readRegister(low(0))).toBe(0x0001_afff);
    expect(readRegister(low(0)) & (ioapic.IOREDTBL_DELIVERY_STATUS | IOREDTBL_REMOTE_IRR)).toBe(0);
  });

  it('stores the destination, bits 63:56, of the high half only', () => {
    writeRegister(high(0), 0xffff_ffff);
    expect(readRegister(high(0))).toBe(0xff00_0000);
  });

  it('keeps each half of each entry apart', () => {
    for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
      writeRegister(low(pin), IOREDTBL_MASKED | (0x20 + pin));
      writeRegister(high(pin), (0x80 + pin) << 24);
    }
    for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
      expect(readRegister(low(pin))).toBe(IOREDTBL_MASKED | (0x20 + pin));
      expect(readRegister(high(pin))).toBe(((0x80 + pin) << 24) >>> 0);
    }
  });

  it('keeps Remote IRR across a write that leaves the entry level-triggered', () => {
    route(3, IOREDTBL_LEVEL_TRIGGERED | 0x33);
    device.setPinLevel(3, true);
    expect(readRegister(low(3)) & IOREDTBL_REMOTE_IRR).toBe(IOREDTBL_REMOTE_IRR);
    writeRegister(low(3), IOREDTBL_LEVEL_TRIGGERED | 0x34); // bit 14 written as 0
    expect(readRegister(low(3))).toBe(IOREDTBL_LEVEL_TRIGGERED | IOREDTBL_REMOTE_IRR | 0x34);
    expect(sent).toEqual([level(0x33)]);
  });

  it('clears Remote IRR when rewritten as edge-triggered (how Linux unsticks it on a version 0x11 IO APIC)', () => {
    route(3, IOREDTBL_LEVEL_TRIGGERED | 0x33);
    device.setPinLevel(3, true);
    writeRegister(low(3), IOREDTBL_MASKED | 0x33);
    expect(readRegister(low(3)) & IOREDTBL_REMOTE_IRR).toBe(0);
    writeRegister(low(3), IOREDTBL_LEVEL_TRIGGERED | 0x33); // back to level, pin still asserted: sent again
    expect(sent).toEqual([level(0x33), level(0x33)]);
  });
});

describe('accesses other than IOREGSEL and IOWIN as 32 bits', () => {
  const architectural = (offset: number, size: number) => (offset === IOREGSEL && (size === 1 || size === 4)) || (offset === IOWIN && size === 4);

  it('never throw, read as zeros, and are counted, at every offset and size', () => {
    let expected = 0;
    for (let offset = 0; offset < ioapic.IO_APIC_MMIO_SIZE; offset++) {
      for (const size of [1, 2, 4, 8]) {
        if (architectural(offset, size)) continue;
        const data = new Uint8Array(size).fill(0xa5);
        device.read(offset, data);
        expect(data.every((byte) => byte === 0)).toBe(true);
        device.write(offset, new Uint8Array(size).fill(0xff));
        expected += 2;
      }
    }
    expect(device.ignoredAccesses).toBe(expected);
    expect(readRegister(IOAPICID)).toBe(0);
    expect(sent).toEqual([]);
  });

  it('change no register, whatever they carry', () => {
    const access = fc.record({
      offset: fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.integer({ min: 0, max: ioapic.IO_APIC_MMIO_SIZE - 1 })),
      bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
      isWrite: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(access, { maxLength: 20 }), (accesses) => {
        sent = [];
        device = new IoApic({ sink: { send: (message) => sent.push(message) } });
        writeRegister(IOAPICID, 0x0700_0000);
        route(5, 0x45, 0x01);
        device.write(IOREGSEL, word(low(5)));
        const ignored = accesses.filter(({ offset, bytes }) => !architectural(offset, bytes.length));
        for (const { offset, bytes, isWrite } of ignored) {
          if (isWrite) device.write(offset, bytes);
          else device.read(offset, bytes);
        }
        expect(device.ignoredAccesses).toBe(ignored.length);
        expect(readWord(device, IOREGSEL)).toBe(low(5));
        expect(readRegister(IOAPICID)).toBe(0x0700_0000);
        expect(readRegister(low(5))).toBe(0x45);
        expect(readRegister(high(5))).toBe(0x0100_0000);
        expect(sent).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

describe('edge-triggered entries', () => {
  it('send once per rising edge', () => {
    route(2, 0x30);
    device.setPinLevel(2, true);
    device.setPinLevel(2, true); // still asserted: no edge
    expect(sent).toEqual([fixed(0x30)]);
    device.setPinLevel(2, false);
    expect(sent).toHaveLength(1);
    device.setPinLevel(2, true);
    expect(sent).toEqual([fixed(0x30), fixed(0x30)]);
  });

  it('latch edges while masked and send one message when unmasked', () => {
    route(8, IOREDTBL_MASKED | 0x38);
    for (let i = 0; i < 3; i++) {
      device.setPinLevel(8, true);
      device.setPinLevel(8, false);
    }
    expect(sent).toEqual([]);
    writeRegister(low(8), 0x38);
    expect(sent).toEqual([fixed(0x38)]);
    writeRegister(low(8), IOREDTBL_MASKED | 0x38);
    writeRegister(low(8), 0x38);
    expect(sent).toHaveLength(1);
  });

  it('drop a latched edge when the entry becomes level-triggered', () => {
    route(8, IOREDTBL_MASKED | 0x38);
    device.setPinLevel(8, true);
    device.setPinLevel(8, false);
    writeRegister(low(8), IOREDTBL_LEVEL_TRIGGERED | 0x38);
    expect(sent).toEqual([]);
  });
});

describe('level-triggered entries and EOI', () => {
  it('send once and set Remote IRR, which holds off re-delivery until EOI', () => {
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    expect(sent).toEqual([level(0x41)]);
    expect(readRegister(low(9)) & IOREDTBL_REMOTE_IRR).toBe(IOREDTBL_REMOTE_IRR);
    device.setPinLevel(9, true);
    device.setPinLevel(9, false);
    device.setPinLevel(9, true);
    expect(sent).toHaveLength(1);
  });

  it('send again on EOI while the pin is still asserted', () => {
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    device.endOfInterrupt(0x41);
    expect(sent).toEqual([level(0x41), level(0x41)]);
    expect(readRegister(low(9)) & IOREDTBL_REMOTE_IRR).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('clear Remote IRR on EOI and stay quiet when the pin was deasserted', () => {
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    device.setPinLevel(9, false);
    device.endOfInterrupt(0x41);
    expect(sent).toHaveLength(1);
    expect(readRegister(low(9)) & IOREDTBL_REMOTE_IRR).toBe(0);
    device.setPinLevel(9, true);
    expect(sent).toHaveLength(2);
  });

  it('ignore an EOI for another vector', () => {
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    device.endOfInterrupt(0x42);
    expect(sent).toHaveLength(1);
    expect(readRegister(low(9)) & IOREDTBL_REMOTE_IRR).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('clear Remote IRR in every entry with the vector', () => {
    route(10, IOREDTBL_LEVEL_TRIGGERED | 0x50);
    route(11, IOREDTBL_LEVEL_TRIGGERED | 0x50);
    device.setPinLevel(10, true);
    device.setPinLevel(11, true);
    device.endOfInterrupt(0x50);
    expect(sent).toEqual([level(0x50), level(0x50), level(0x50), level(0x50)]);
  });

  it('send when an entry is unmasked with its pin asserted', () => {
    route(12, IOREDTBL_MASKED | IOREDTBL_LEVEL_TRIGGERED | 0x60);
    device.setPinLevel(12, true);
    expect(sent).toEqual([]);
    writeRegister(low(12), IOREDTBL_LEVEL_TRIGGERED | 0x60);
    expect(sent).toEqual([level(0x60)]);
  });
});

describe('messages', () => {
  it('carry the entry’s vector, delivery mode, destination mode, destination and trigger mode', () => {
    const lowestPriority = DeliveryMode.lowestPriority << ioapic.IOREDTBL_DELIVERY_MODE_SHIFT;
    route(1, lowestPriority | IOREDTBL_LOGICAL | 0x71, 0xa5);
    route(7, (DeliveryMode.extInt << ioapic.IOREDTBL_DELIVERY_MODE_SHIFT) | IOREDTBL_LEVEL_TRIGGERED | 0x72, 0x03);
    device.setPinLevel(1, true);
    device.setPinLevel(7, true);
    expect(sent).toEqual([
      { vector: 0x71, deliveryMode: DeliveryMode.lowestPriority, logical: true, destination: 0xa5, levelTriggered: false },
      { vector: 0x72, deliveryMode: DeliveryMode.extInt, logical: false, destination: 0x03, levelTriggered: true },
    ]);
  });

  it('follow the device’s assertion whatever the programmed polarity', () => {
    route(4, ioapic.IOREDTBL_ACTIVE_LOW | IOREDTBL_LEVEL_TRIGGERED | 0x24);
    expect(sent).toEqual([]); // an idle device on an active-low pin is not asserted
    device.setPinLevel(4, true);
    expect(sent).toEqual([level(0x24)]);
    expect(readRegister(low(4)) & ioapic.IOREDTBL_ACTIVE_LOW).toBe(ioapic.IOREDTBL_ACTIVE_LOW);
  });

  it('reach the sink with the lock released, so a sink may call back in', () => {
    const state = new SharedState(ioapic.IO_APIC_STATE_WORDS);
    const lockWord = new Int32Array(state.buffer, 0, 1);
    const locksHeld: number[] = [];
    const apic: ioapic.IoApic = new IoApic({
      state,
      sink: {
        send: (message) => {
          const lock = Atomics.load(lockWord, 0);
          locksHeld.push(lock);
          // An EOI at once, as a test's Local APIC might (only with the lock free: otherwise it would wait forever).
          if (lock === 0 && locksHeld.length < 3) apic.endOfInterrupt(message.vector);
          return 1;
        },
      },
    });
    route(6, IOREDTBL_LEVEL_TRIGGERED | 0x26, 0, apic);
    apic.setPinLevel(6, true);
    expect(locksHeld).toEqual([0, 0, 0]);
  });
});

describe('shared state', () => {
  it('lets two views over one SharedArrayBuffer see each other’s registers and pins', () => {
    const buffer = new SharedState(ioapic.IO_APIC_STATE_WORDS).buffer;
    const sentByFirst: ApicMessage[] = [];
    const sentBySecond: ApicMessage[] = [];
    const first = new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer), sink: { send: (m) => sentByFirst.push(m) } });
    const second = new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer), sink: { send: (m) => sentBySecond.push(m) } });
    writeRegister(IOAPICID, 0x0300_0000, first);
    expect(readRegister(IOAPICID, second)).toBe(0x0300_0000);
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x49, 0, first);
    first.setPinLevel(9, true);
    second.endOfInterrupt(0x49); // the EOI arrives on another vCPU's thread
    expect(sentByFirst).toEqual([level(0x49)]);
    expect(sentBySecond).toEqual([level(0x49)]);
    second.read(0x20, new Uint8Array(4));
    expect(first.ignoredAccesses).toBe(1);
  });

  it('refuses a shared state too small for it', () => {
    expect(() => new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS - 1), sink: { send: () => 1 } })).toThrow(RangeError);
  });
});

describe('pins', () => {
  it('are driven through line(pin), as the UART and the HPET are wired', () => {
    route(4, 0x24);
    const com1 = device.line(4);
    com1.setLevel(true);
    com1.setLevel(false);
    com1.setLevel(true);
    expect(sent).toEqual([fixed(0x24), fixed(0x24)]);
  });

  it('outside 0-23 are ignored', () => {
    for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) route(pin, 0x20 + pin);
    for (const pin of [-1, 24, 255, 1.5, Number.NaN, 2 ** 32]) {
      expect(() => device.setPinLevel(pin, true)).not.toThrow();
      expect(() => device.line(pin).setLevel(true)).not.toThrow();
    }
    expect(sent).toEqual([]);
  });
});
