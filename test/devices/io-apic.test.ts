/** The 82093AA IO APIC model, register by register, then pin by pin (82093AA data sheet, section 3). */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { ApicBus } from '../../src/devices/apic-bus.js';
import { DeliveryMode, type ApicMessage, type ApicMessageSink } from '../../src/devices/apic-message.js';
import * as ioapic from '../../src/devices/io-apic.js';
import * as lapic from '../../src/devices/local-apic.js';
import { LocalApicStates } from '../../src/devices/local-apic-state.js';
import { SharedState } from '../../src/devices/shared-state.js';

const { IoApic, IOREGSEL, IOWIN, IOAPICID, IOAPICVER, IOAPICARB, IO_APIC_PIN_COUNT } = ioapic;
const { IOREDTBL_MASKED, IOREDTBL_LEVEL_TRIGGERED, IOREDTBL_REMOTE_IRR, IOREDTBL_LOGICAL } = ioapic;

let sent: ApicMessage[];
/** How many Local APICs the test sink says accepted each message. */
let acceptedBy: number;
let device: ioapic.IoApic;

/** A sink that records each message and answers `acceptedBy`. */
const recordingSink = (): ApicMessageSink => ({
  send: (message) => {
    sent.push(message);
    return acceptedBy;
  },
});

beforeEach(() => {
  sent = [];
  acceptedBy = 1;
  device = new IoApic({ sink: recordingSink() });
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
        device = new IoApic({ sink: recordingSink() });
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

describe('Remote IRR follows acceptance (3.2.4 bit 14)', () => {
  const remoteIrr = (pin: number) => readRegister(low(pin)) & IOREDTBL_REMOTE_IRR;

  it('stays clear when no Local APIC accepts the level message, and nothing is sent again by itself', () => {
    acceptedBy = 0;
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    expect(sent).toEqual([level(0x41)]);
    expect(remoteIrr(9)).toBe(0);
    device.endOfInterrupt(0x41); // a stray EOI: nothing in service, nothing sent
    expect(sent).toHaveLength(1);
  });

  it('is set when one Local APIC accepts it, or several', () => {
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    expect(remoteIrr(9)).toBe(IOREDTBL_REMOTE_IRR);
    acceptedBy = 3;
    route(10, IOREDTBL_LEVEL_TRIGGERED | 0x42, 0xff);
    device.setPinLevel(10, true);
    expect(remoteIrr(10)).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('an unaccepted level message is sent again when the device asserts the pin again, or the entry is rewritten', () => {
    acceptedBy = 0;
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    device.setPinLevel(9, true);
    device.setPinLevel(9, true);
    expect(sent).toEqual([level(0x41), level(0x41)]);
    acceptedBy = 1;
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41, 0x01); // now for APIC 1, which accepts it
    expect(sent).toEqual([level(0x41), level(0x41), fixed(0x41, { levelTriggered: true, destination: 0x01 })]);
    expect(remoteIrr(9)).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('retryAssertedLevelPins sends every asserted, unmasked level entry without Remote IRR, once accepted only once', () => {
    acceptedBy = 0;
    route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
    route(10, IOREDTBL_LEVEL_TRIGGERED | 0x42);
    device.setPinLevel(9, true);
    device.setPinLevel(10, true);
    expect(sent).toHaveLength(2);
    acceptedBy = 1;
    device.retryAssertedLevelPins();
    expect(sent.slice(2)).toEqual([level(0x41), level(0x42)]);
    expect([remoteIrr(9), remoteIrr(10)]).toEqual([IOREDTBL_REMOTE_IRR, IOREDTBL_REMOTE_IRR]);
    device.retryAssertedLevelPins(); // in service now: nothing more until the EOI
    expect(sent).toHaveLength(4);
  });

  it('retryAssertedLevelPins leaves masked, deasserted, in-service and edge entries alone', () => {
    route(8, 0x38); // edge, its message accepted
    route(9, IOREDTBL_MASKED | IOREDTBL_LEVEL_TRIGGERED | 0x39);
    route(10, IOREDTBL_LEVEL_TRIGGERED | 0x3a);
    route(11, IOREDTBL_LEVEL_TRIGGERED | 0x3b); // in service
    device.setPinLevel(8, true);
    device.setPinLevel(9, true);
    device.setPinLevel(11, true);
    expect(sent).toEqual([fixed(0x38), level(0x3b)]);
    device.retryAssertedLevelPins();
    expect(sent).toHaveLength(2);
  });

  it('an edge message nobody accepted is lost: not sent again, latched or retried', () => {
    acceptedBy = 0;
    route(8, 0x38);
    device.setPinLevel(8, true);
    acceptedBy = 1;
    device.retryAssertedLevelPins();
    writeRegister(low(8), 0x38);
    expect(sent).toEqual([fixed(0x38)]);
  });

  describe('while the level message is in flight (sent, its Remote IRR not yet decided)', () => {
    /** A sink that runs `during` while delivering the message number `at` (from 1), then answers `accepted(n)`. */
    function inFlight(at: number, during: () => void, accepted: (n: number) => number = () => 1): ioapic.IoApic {
      device = new IoApic({
        sink: {
          send: (message) => {
            sent.push(message);
            if (sent.length === at) during();
            return accepted(sent.length);
          },
        },
      });
      return device;
    }

    it('an EOI that comes before the sender gets the lock back leaves Remote IRR clear, as it ended the interrupt', () => {
      // The vCPU took the interrupt at once and its handler quieted the device, then EOIed.
      inFlight(1, () => {
        device.setPinLevel(9, false);
        device.endOfInterrupt(0x41);
      });
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41)]);
      expect(remoteIrr(9)).toBe(0);
      device.setPinLevel(9, true); // a new request is not held off by a stale Remote IRR
      expect(sent).toHaveLength(2);
    });

    it('such an EOI with the pin still asserted sends again, as any EOI does', () => {
      inFlight(1, () => device.endOfInterrupt(0x41));
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41), level(0x41)]);
      expect(remoteIrr(9)).toBe(IOREDTBL_REMOTE_IRR);
    });

    it('no second message leaves for the pin: a retry, a rewrite or another assertion waits for the first', () => {
      inFlight(1, () => {
        device.retryAssertedLevelPins();
        writeRegister(low(9), IOREDTBL_LEVEL_TRIGGERED | 0x41);
        device.setPinLevel(9, true);
      });
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41)]);
      expect(remoteIrr(9)).toBe(IOREDTBL_REMOTE_IRR);
    });

    it('an APIC enabled meanwhile gets it: the retry that found the message in flight is made when nobody accepted it', () => {
      inFlight(1, () => device.retryAssertedLevelPins(), (n) => (n === 1 ? 0 : 1));
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41), level(0x41)]);
      expect(remoteIrr(9)).toBe(IOREDTBL_REMOTE_IRR);
    });

    it('an entry rewritten with another vector gets no Remote IRR for the old one, and sends its own', () => {
      inFlight(1, () => writeRegister(low(9), IOREDTBL_LEVEL_TRIGGERED | 0x51));
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41), level(0x51)]);
      expect(readRegister(low(9))).toBe(IOREDTBL_LEVEL_TRIGGERED | IOREDTBL_REMOTE_IRR | 0x51);
    });

    it('an entry masked meanwhile still gets Remote IRR: the message was accepted, its EOI clears it', () => {
      inFlight(1, () => writeRegister(low(9), IOREDTBL_MASKED | IOREDTBL_LEVEL_TRIGGERED | 0x41));
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(readRegister(low(9))).toBe(IOREDTBL_MASKED | IOREDTBL_LEVEL_TRIGGERED | IOREDTBL_REMOTE_IRR | 0x41);
      device.endOfInterrupt(0x41);
      expect(readRegister(low(9))).toBe(IOREDTBL_MASKED | IOREDTBL_LEVEL_TRIGGERED | 0x41);
      expect(sent).toHaveLength(1);
    });

    it('another thread\'s view sees the message in flight too', () => {
      const buffer = new SharedState(ioapic.IO_APIC_STATE_WORDS).buffer;
      const otherThread = new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer), sink: recordingSink() });
      device = new IoApic({
        state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer),
        sink: {
          send: (message) => {
            sent.push(message);
            if (sent.length === 1) {
              otherThread.retryAssertedLevelPins(); // waits for this message
              otherThread.setPinLevel(9, false);
              otherThread.endOfInterrupt(0x41); // ends it
            }
            return 1;
          },
        },
      });
      route(9, IOREDTBL_LEVEL_TRIGGERED | 0x41);
      device.setPinLevel(9, true);
      expect(sent).toEqual([level(0x41)]);
      expect(remoteIrr(9)).toBe(0);
    });
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
    const recordIn = (messages: ApicMessage[]): ApicMessageSink => ({ send: (m) => (messages.push(m), 1) });
    const first = new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer), sink: recordIn(sentByFirst) });
    const second = new IoApic({ state: new SharedState(ioapic.IO_APIC_STATE_WORDS, buffer), sink: recordIn(sentBySecond) });
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

/**
 * The IO APIC with the APIC bus and two Local APICs, wired as src/vmm/interrupts.ts wires
 * them: level EOIs go to endOfInterrupt, an APIC that starts accepting to
 * retryAssertedLevelPins. Every message and what it found is recorded.
 */
class Machine {
  readonly states = new LocalApicStates(2);
  readonly bus = new ApicBus(this.states, { notify: () => {}, beforeEvent: () => {}, revive: () => {}, afterEvent: () => {} });
  /** Each message the IO APIC sent, with how many APICs accepted it. */
  readonly deliveries: { message: ApicMessage; accepted: number }[] = [];
  readonly ioApic = new IoApic({
    sink: {
      send: (message) => {
        const accepted = this.bus.send(message);
        this.deliveries.push({ message, accepted });
        return accepted;
      },
    },
  });
  readonly apics = [0, 1].map(
    (id) =>
      new lapic.LocalApic({
        id,
        states: this.states,
        ipis: this.bus,
        taskPriority: { cr8: 0 },
        now: () => 0,
        onLevelEoi: (vector) => this.ioApic.endOfInterrupt(vector),
        onAcceptingInterrupts: () => this.ioApic.retryAssertedLevelPins(),
        relocate: () => true,
        report: () => {},
      }),
  );

  write(id: number, offset: number, value: number): void {
    this.apics[id]!.write(offset, word(value));
  }
  /** SVR bit 8, with spurious vector 0xff. */
  softwareEnable(id: number, enabled = true): void {
    this.write(id, lapic.APIC_SVR, (enabled ? lapic.SVR_SOFTWARE_ENABLE : 0) | 0xff);
  }
  /** IA32_APIC_BASE bit 11, at the default base. */
  globallyEnable(id: number, enabled: boolean): void {
    this.apics[id]!.writeApicBase(BigInt(lapic.LOCAL_APIC_DEFAULT_BASE) | (enabled ? lapic.APIC_BASE_ENABLE : 0n));
  }
  /** The vCPU takes its deliverable vector (SDM 10.8.4): the vector, or -1. */
  take(id: number): number {
    const vector = this.apics[id]!.deliverableVector();
    if (vector >= 0) this.apics[id]!.acknowledge(vector);
    return vector;
  }
  eoi(id: number): void {
    this.write(id, lapic.APIC_EOI, 0);
  }
  inIrr(id: number, vector: number): boolean {
    return ((this.states.irrWord(id, vector >> 5) >>> (vector & 31)) & 1) === 1;
  }
  remoteIrr(pin: number): number {
    return readRegister(low(pin), this.ioApic) & IOREDTBL_REMOTE_IRR;
  }
  /** How many deliveries some APIC accepted. */
  get accepted(): number {
    return this.deliveries.filter((delivery) => delivery.accepted > 0).length;
  }
}

describe('with Local APICs on the APIC bus', () => {
  let machine: Machine;
  beforeEach(() => {
    machine = new Machine();
  });
  const routeLevel = (pin: number, vector: number, destination = 0, bits = 0) =>
    route(pin, IOREDTBL_LEVEL_TRIGGERED | bits | vector, destination, machine.ioApic);

  it('an asserted level pin that found nobody is sent again when its entry gets a destination that accepts', () => {
    machine.softwareEnable(0);
    routeLevel(6, 0x56, 2); // APIC ID 2: no such APIC
    machine.ioApic.setPinLevel(6, true);
    expect(machine.accepted).toBe(0);
    machine.ioApic.write(IOREGSEL, word(low(6) + 1));
    machine.ioApic.write(IOWIN, word(0)); // destination: APIC 0
    expect(machine.accepted).toBe(1);
    expect(machine.inIrr(0, 0x56)).toBe(true);
    expect(machine.remoteIrr(6)).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('a level pin asserted before its APIC is software-enabled is delivered once the APIC is, exactly once', () => {
    routeLevel(5, 0x55);
    machine.ioApic.setPinLevel(5, true);
    expect(machine.deliveries).toEqual([{ message: level(0x55), accepted: 0 }]);
    expect(machine.remoteIrr(5)).toBe(0);
    expect(machine.states.undeliveredCount()).toBe(1);

    machine.softwareEnable(0);
    expect(machine.deliveries).toHaveLength(2);
    expect(machine.accepted).toBe(1);
    expect(machine.inIrr(0, 0x55)).toBe(true);
    expect(machine.remoteIrr(5)).toBe(IOREDTBL_REMOTE_IRR);
    machine.softwareEnable(0); // enabled already
    machine.softwareEnable(1); // another APIC: the interrupt is in service, nothing to retry
    expect(machine.deliveries).toHaveLength(2);

    expect(machine.take(0)).toBe(0x55);
    machine.ioApic.setPinLevel(5, false); // the handler quiets the device, then EOIs
    machine.eoi(0);
    expect(machine.remoteIrr(5)).toBe(0);
    expect(machine.deliveries).toHaveLength(2);
    expect(machine.take(0)).toBe(-1);
    expect(machine.states.coalescedCount(0, 0x55)).toBe(0);
    expect(machine.states.undeliveredCount()).toBe(1);
  });

  it('after a global disable and enable, the APIC accepts the pin only once software-enabled again', () => {
    machine.softwareEnable(0);
    machine.globallyEnable(0, false);
    routeLevel(5, 0x55);
    machine.ioApic.setPinLevel(5, true);
    expect(machine.remoteIrr(5)).toBe(0);
    machine.globallyEnable(0, true); // the power-up state: software-disabled (SDM 10.4.7.1)
    expect(machine.accepted).toBe(0);
    machine.softwareEnable(0);
    expect(machine.accepted).toBe(1);
    expect(machine.remoteIrr(5)).toBe(IOREDTBL_REMOTE_IRR);
    expect(machine.take(0)).toBe(0x55);
  });

  it('a message addressed to no APIC leaves Remote IRR clear and is counted; pointing the entry at one delivers it', () => {
    machine.softwareEnable(1);
    routeLevel(6, 0x66, 7);
    machine.ioApic.setPinLevel(6, true);
    expect(machine.remoteIrr(6)).toBe(0);
    expect(machine.states.undeliveredCount()).toBe(1);
    machine.softwareEnable(0); // enabled, but not addressed: still nothing
    expect(machine.accepted).toBe(0);
    expect(machine.states.undeliveredCount()).toBe(2);
    routeLevel(6, 0x66, 1);
    expect(machine.remoteIrr(6)).toBe(IOREDTBL_REMOTE_IRR);
    expect(machine.take(1)).toBe(0x66);
  });

  it('lowest priority with no APIC accepting: Remote IRR clear, counted, and the first APIC enabled takes it', () => {
    const lowestPriority = DeliveryMode.lowestPriority << ioapic.IOREDTBL_DELIVERY_MODE_SHIFT;
    routeLevel(7, 0x77, 0xff, lowestPriority | IOREDTBL_LOGICAL);
    machine.ioApic.setPinLevel(7, true);
    expect(machine.deliveries.map((delivery) => delivery.accepted)).toEqual([0]);
    expect(machine.remoteIrr(7)).toBe(0);
    expect(machine.states.undeliveredCount()).toBe(1);
    machine.softwareEnable(1);
    expect(machine.deliveries.map((delivery) => delivery.accepted)).toEqual([0, 1]);
    expect(machine.inIrr(1, 0x77)).toBe(true);
    expect(machine.remoteIrr(7)).toBe(IOREDTBL_REMOTE_IRR);
  });

  it('an edge interrupt nobody accepted is counted and lost, as on hardware', () => {
    route(3, 0x33, 0, machine.ioApic);
    machine.ioApic.setPinLevel(3, true);
    machine.softwareEnable(0);
    expect(machine.deliveries).toEqual([{ message: fixed(0x33), accepted: 0 }]);
    expect(machine.take(0)).toBe(-1);
    expect(machine.states.undeliveredCount()).toBe(1);
  });

  it('no sequence of IO APIC writes, pin changes, EOIs and APIC enables throws, or leaves a deliverable level pin unsent (fast-check)', () => {
    const pin = fc.integer({ min: 0, max: 2 });
    const apic = fc.integer({ min: 0, max: 1 });
    const vector = fc.constantFrom(0x08, 0x40, 0x41, 0x50); // 0x08: an illegal vector, never accepted
    const structuredLow = fc
      .record({ vector, level: fc.boolean(), masked: fc.boolean(), lowest: fc.boolean() })
      .map(
        ({ vector, level, masked, lowest }) =>
          vector |
          (level ? IOREDTBL_LEVEL_TRIGGERED : 0) |
          (masked ? IOREDTBL_MASKED : 0) |
          (lowest ? DeliveryMode.lowestPriority << ioapic.IOREDTBL_DELIVERY_MODE_SHIFT : 0),
      );
    const entryLow = fc.oneof({ arbitrary: fc.integer({ min: 0, max: 0x1_ffff }), weight: 1 }, { arbitrary: structuredLow, weight: 4 });
    const operation = fc.oneof(
      fc.record({ kind: fc.constant('entry' as const), pin, low: entryLow, destination: fc.constantFrom(0, 1, 2, 0xff) }),
      fc.record({ kind: fc.constant('register' as const), index: fc.integer({ min: 0, max: 0x40 }), value: fc.integer({ min: 0, max: 0xffff_ffff }) }),
      fc.record({ kind: fc.constant('pin' as const), pin, asserted: fc.boolean() }),
      fc.record({ kind: fc.constant('take' as const), apic }),
      fc.record({ kind: fc.constant('eoi' as const), apic }),
      fc.record({ kind: fc.constant('stray EOI' as const), vector }),
      fc.record({ kind: fc.constant('software enable' as const), apic, enabled: fc.boolean() }),
      fc.record({ kind: fc.constant('global enable' as const), apic, enabled: fc.boolean() }),
    );
    fc.assert(
      fc.property(fc.array(operation, { minLength: 10, maxLength: 60 }), (operations) => {
        const m = new Machine();
        for (const op of operations) {
          switch (op.kind) {
            case 'entry':
              route(op.pin, op.low, op.destination, m.ioApic);
              break;
            case 'register':
              writeRegister(op.index, op.value, m.ioApic);
              break;
            case 'pin':
              m.ioApic.setPinLevel(op.pin, op.asserted);
              break;
            case 'take':
              m.take(op.apic);
              break;
            case 'eoi':
              m.eoi(op.apic);
              break;
            case 'stray EOI':
              m.ioApic.endOfInterrupt(op.vector);
              break;
            case 'software enable':
              m.softwareEnable(op.apic, op.enabled);
              break;
            case 'global enable':
              m.globallyEnable(op.apic, op.enabled);
              break;
          }
          for (let p = 0; p < IO_APIC_PIN_COUNT; p++) {
            const entry = readRegister(low(p), m.ioApic);
            if (entry & IOREDTBL_REMOTE_IRR) expect(entry & IOREDTBL_LEVEL_TRIGGERED, `pin ${p}: Remote IRR on an edge entry`).not.toBe(0);
          }
          // Every way a level message could become deliverable already retried it: retrying now finds nobody new.
          const accepted = m.accepted;
          m.ioApic.retryAssertedLevelPins();
          expect(m.accepted, `after ${op.kind}`).toBe(accepted);
        }
      }),
      { numRuns: 300 },
    );
  });
});
