/**
 * An I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller data sheet), as
 * a state machine: 24 input pins, each routed by a redirection entry to an APIC bus message.
 *
 * The guest reaches the registers indirectly (3.1): it writes a register index to IOREGSEL
 * at offset 0x00, then reads or writes the register through IOWIN at offset 0x10. Only
 * aligned 32-bit accesses to those two offsets are architectural; a byte access to IOREGSEL
 * is accepted too, since OSes select registers with byte writes. Every other access in the
 * 0x1000-byte window reads as zeros, is ignored when written, and is counted in
 * `ignoredAccesses` so that a guest poking at the wrong place shows up in diagnostics.
 *
 * Pins. A device drives its pin's logical assertion (true = interrupt requested) through
 * `setPinLevel` or a `line(pin)`. The polarity bit (3.2.4 bit 13) is stored and read back
 * but does not invert that level: polarity describes the electrical wire, and here the
 * wire is modelled after the polarity stage, so whatever polarity the guest programs (from
 * the MADT's interrupt source overrides, correctly or not) a device that requests an
 * interrupt is seen as requesting one, and an idle device is never seen as asserted.
 * Inverting instead would turn a mismatch between the firmware tables and the model into an
 * interrupt storm on a level pin.
 *
 * Delivery. An edge-triggered entry sends its message on each rising edge. The 82093AA
 * drops an edge that arrives while its entry is masked (3.2.4 bit 16); this model latches it
 * instead and sends it, once, when the entry is unmasked, so that an edge raised while an
 * OS briefly masks the pin (a timer tick, a UART's THR-empty) is not lost. A level-triggered
 * entry sends while its pin is asserted, the entry unmasked and Remote IRR clear. Remote IRR
 * (3.2.4 bit 14) is set when a Local APIC accepts the message, and only then: a message that
 * no Local APIC accepts (none addressed, or all of them disabled) leaves it clear, since no
 * EOI would ever come to clear it. (KVM's in-kernel IO APIC sets it from the delivery's
 * result too, and so leaves it clear for software-disabled APICs; it sets it when no APIC at
 * all is addressed, which would wedge the pin until the entry is rewritten.) The Local APIC's
 * EOI broadcast for the vector (`endOfInterrupt`) clears it, and the entry sends again if the
 * pin is still asserted. A level message nobody accepted is sent again when the entry is
 * rewritten, the device asserts the pin again, or a Local APIC becomes able to accept
 * interrupts (`retryAssertedLevelPins`); an edge message nobody accepted is lost, as on
 * hardware (the APIC bus counts it). Messages reach the sink at once, so Delivery Status
 * (3.2.4 bit 12) always reads 0 (idle).
 *
 * The registers and pin levels live in a SharedState: every vCPU thread (and the main
 * thread) builds its own IoApic over the same block and each operation takes its lock. A
 * zeroed block is the reset state (every entry masked, the mask bit is stored inverted), so
 * the platform creates the block and nothing more. Messages are queued under the lock and
 * sent after it is released, so a sink that reaches back into the IO APIC cannot deadlock
 * and a slow sink never holds up another vCPU's register access.
 *
 * So a level message's fate is known only after the lock was released, and Remote IRR is
 * decided in a second step under the lock (`completeLevelDelivery`). Between the two steps
 * the pin's bit in LEVEL_IN_FLIGHT stands for Remote IRR: no second message leaves for the
 * pin, and whatever happens to it meanwhile is noted for the second step to act on:
 *  - the accepting vCPU may take the interrupt and broadcast its EOI before the sender gets
 *    the lock back (EOI_IN_FLIGHT): setting Remote IRR then would leave it set with no EOI
 *    to come, so the second step leaves it clear and services the pin as the EOI would have;
 *  - a Local APIC may become enabled, the entry be rewritten or the device assert the pin
 *    again (SERVICE_IN_FLIGHT): if nobody accepted the message, the second step services
 *    the pin, so that the request that found it in flight is not lost;
 *  - the entry may be rewritten: Remote IRR is set only if it is still level-triggered with
 *    the vector that was sent, since the EOI that clears it matches on the vector; otherwise
 *    the second step services the pin, as for an EOI.
 */
import { littleEndianValue, type BusDevice, type InterruptLine } from './bus-device.js';
import type { ApicMessage, ApicMessageSink } from './apic-message.js';
import { SharedState } from './shared-state.js';

/** The MMIO window a PC gives the IO APIC: one 4 KiB page, of which only IOREGSEL and IOWIN are registers. */
export const IO_APIC_MMIO_SIZE = 0x1000;
/** The register select register (3.1.1): bits 7:0 name the register IOWIN reaches. */
export const IOREGSEL = 0x00;
/** The register window (3.1.2): reads and writes the register IOREGSEL selects. */
export const IOWIN = 0x10;

/** Register indices, written to IOREGSEL. */
export const IOAPICID = 0x00; // 3.2.1
export const IOAPICVER = 0x01; // 3.2.2
export const IOAPICARB = 0x02; // 3.2.3
/** IOREDTBL[n] (3.2.4) is two registers: bits 31:0 at IOREDTBL_FIRST + 2n, bits 63:32 after it. */
export const IOREDTBL_FIRST = 0x10;

/** The input pins, and so the redirection entries. */
export const IO_APIC_PIN_COUNT = 24;

/** IOAPICID bits 27:24: the APIC ID; the other bits are reserved and read 0. */
export const IOAPICID_SHIFT = 24;
const ID_MASK = 0x0f;
/** IOAPICVER bits 7:0: the 82093AA's version. */
export const IO_APIC_VERSION = 0x11;
/** IOAPICVER bits 23:16: the highest redirection entry index. */
export const IOAPICVER_MAX_ENTRY_SHIFT = 16;
const VERSION_REGISTER = ((IO_APIC_PIN_COUNT - 1) << IOAPICVER_MAX_ENTRY_SHIFT) | IO_APIC_VERSION;

// Redirection entry bits 31:0 (3.2.4).
export const IOREDTBL_VECTOR = 0xff;
export const IOREDTBL_DELIVERY_MODE_SHIFT = 8; // bits 10:8, one of DeliveryMode
const DELIVERY_MODE_MASK = 0x7;
export const IOREDTBL_LOGICAL = 1 << 11; // destination mode: 0 physical, 1 logical
export const IOREDTBL_DELIVERY_STATUS = 1 << 12; // read-only
export const IOREDTBL_ACTIVE_LOW = 1 << 13; // interrupt input pin polarity
export const IOREDTBL_REMOTE_IRR = 1 << 14; // read-only
export const IOREDTBL_LEVEL_TRIGGERED = 1 << 15;
export const IOREDTBL_MASKED = 1 << 16;
/** The bits of the low half a write sets; the read-only bits and reserved bits 31:17 keep their values. */
const WRITABLE_LOW =
  IOREDTBL_VECTOR | (DELIVERY_MODE_MASK << IOREDTBL_DELIVERY_MODE_SHIFT) | IOREDTBL_LOGICAL | IOREDTBL_ACTIVE_LOW | IOREDTBL_LEVEL_TRIGGERED | IOREDTBL_MASKED;
// Redirection entry bits 63:32: the destination in 63:56, reserved below it.
export const IOREDTBL_DESTINATION_SHIFT = 24;
const WRITABLE_HIGH = 0xff << IOREDTBL_DESTINATION_SHIFT;

/** The words of the IO APIC's shared state. */
const SELECTED_REGISTER = 0; // IOREGSEL bits 7:0
const ID = 1; // IOAPICID bits 27:24, shifted down
const IGNORED_ACCESSES = 2;
const PIN_LEVELS = 3; // bit n: pin n asserted
const PENDING_EDGES = 4; // bit n: an edge on pin n not yet sent
/** Bit n: pin n's level message is being delivered, its Remote IRR not yet decided (see the header). */
const LEVEL_IN_FLIGHT = 5;
/** Bit n: an EOI for pin n's vector arrived while its level message was in flight. */
const EOI_IN_FLIGHT = 6;
/** Bit n: pin n was to be serviced while its level message was in flight. */
const SERVICE_IN_FLIGHT = 7;
/** Redirection entry bits 31:0, XOR IOREDTBL_MASKED so that a zero word is the masked reset value. */
const REDIRECTION_LOW = 8;
const REDIRECTION_HIGH = REDIRECTION_LOW + IO_APIC_PIN_COUNT;
/** The number of words an IO APIC's shared state holds. */
export const IO_APIC_STATE_WORDS = REDIRECTION_HIGH + IO_APIC_PIN_COUNT;

export interface IoApicOptions {
  /** Where the redirection entries' messages go: the APIC bus to every Local APIC. */
  readonly sink: ApicMessageSink;
  /** The state shared with the other threads' views of this IO APIC (a fresh one when omitted). */
  readonly state?: SharedState;
}

export class IoApic implements BusDevice {
  private readonly sink: ApicMessageSink;
  private readonly state: SharedState;
  /** The message each pin's entry sends, made again only when the entry changes: a delivery allocates nothing. */
  private readonly messages: (ApicMessage | undefined)[] = new Array<ApicMessage | undefined>(IO_APIC_PIN_COUNT).fill(undefined);
  /**
   * The messages queued under the lock and not yet sent, with their pins, as a stack: a sink
   * that reaches back into this object (on this thread) queues and sends its own above the
   * caller's, and leaves the caller's untouched.
   */
  private readonly outgoing: ApicMessage[] = [];
  private readonly outgoingPins: number[] = [];
  private outgoingCount = 0;
  /** The delivery `completeDelivery` completes: set just before it runs under the lock. */
  private completingPin = 0;
  private completingVector = 0;
  private completingAccepted = 0;
  private readonly completeDelivery = (): void => this.completeLevelDelivery(this.completingPin, this.completingVector, this.completingAccepted);

  constructor(options: IoApicOptions) {
    this.sink = options.sink;
    this.state = options.state ?? new SharedState(IO_APIC_STATE_WORDS);
    if (this.state.wordCount < IO_APIC_STATE_WORDS) throw new RangeError('the IO APIC needs a larger shared state');
  }

  /**
   * A machine reset (82093AA data sheet, 3.0: RESET masks every entry and clears the ID): a
   * zeroed block is that state. Pin levels and edges not yet sent go too, since the devices
   * driving the pins are reset with it. The ignored-access count is a statistic and survives.
   */
  reset(): void {
    this.state.locked(() => this.state.zero([IGNORED_ACCESSES]));
  }

  read(offset: number, data: Uint8Array): void {
    data.fill(0);
    this.state.locked(() => {
      let value: number;
      if (isRegisterSelect(offset, data.length)) value = this.selectedRegister;
      else if (isRegisterWindow(offset, data.length)) value = this.readRegister(this.selectedRegister);
      else {
        this.countIgnoredAccess();
        return;
      }
      for (let i = 0; i < data.length; i++) data[i] = (value >>> (8 * i)) & 0xff;
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.update(() => {
      const value = Number(littleEndianValue(data.subarray(0, 4)));
      if (isRegisterSelect(offset, data.length)) this.selectedRegister = value & 0xff;
      else if (isRegisterWindow(offset, data.length)) this.writeRegister(this.selectedRegister, value);
      else this.countIgnoredAccess();
    });
  }

  /** Drives input pin `pin` (0 to 23; others are ignored): `asserted` is the device's interrupt request. */
  setPinLevel(pin: number, asserted: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IO_APIC_PIN_COUNT) return;
    this.update(() => {
      const bit = 1 << pin;
      const wasAsserted = (this.pinLevels & bit) !== 0;
      this.pinLevels = asserted ? this.pinLevels | bit : this.pinLevels & ~bit;
      // An edge entry latches the rising edge whether or not it is masked; service() sends it when it may.
      if (asserted && !wasAsserted && !(this.redirectionLow(pin) & IOREDTBL_LEVEL_TRIGGERED)) this.pendingEdges |= bit;
      this.service(pin);
    });
  }

  /** The interrupt line a device on pin `pin` drives (COM1 on pin 4, the HPET's timers on theirs). */
  line(pin: number): InterruptLine {
    return { setLevel: (asserted) => this.setPinLevel(pin, asserted) };
  }

  /**
   * A Local APIC's EOI for a level-triggered interrupt, broadcast to the IO APICs: clears
   * Remote IRR in every entry with this vector, and sends again for a pin still asserted.
   */
  endOfInterrupt(vector: number): void {
    this.update(() => {
      for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
        const low = this.redirectionLow(pin);
        if ((low & IOREDTBL_VECTOR) !== (vector & IOREDTBL_VECTOR)) continue;
        if (low & IOREDTBL_REMOTE_IRR) {
          this.setRedirectionLow(pin, low & ~IOREDTBL_REMOTE_IRR);
          this.service(pin);
        } else if (this.levelInFlight & (1 << pin)) {
          this.eoiInFlight |= 1 << pin; // perhaps the EOI of the message in flight: completeLevelDelivery decides
        }
      }
    });
  }

  /**
   * A Local APIC became able to accept interrupts (software- or globally enabled, SDM 10.4.3
   * and 10.4.7.2): every level entry whose pin is asserted, unmasked and without Remote IRR
   * sends again. Its last message found no APIC to accept it; it would otherwise wait for a
   * rewrite of the entry, or for the device to drop and raise its line again. Any thread.
   */
  retryAssertedLevelPins(): void {
    this.update(() => {
      for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
        if (this.redirectionLow(pin) & IOREDTBL_LEVEL_TRIGGERED) this.service(pin);
      }
    });
  }

  /** How many accesses to the MMIO window were not to IOREGSEL or IOWIN as the data sheet allows, on any thread. */
  get ignoredAccesses(): number {
    return this.state.locked(() => this.state.get(IGNORED_ACCESSES) >>> 0);
  }

  /**
   * Runs `action` under the lock, then sends the messages it queued, each level message
   * followed by its second step under the lock (see the header), which may queue one more.
   */
  private update(action: () => void): void {
    const first = this.outgoingCount;
    this.state.locked(action);
    for (let index = first; index < this.outgoingCount; index++) {
      const message = this.outgoing[index] as ApicMessage;
      const accepted = this.sink.send(message);
      if (!message.levelTriggered) continue;
      this.completingPin = this.outgoingPins[index] as number;
      this.completingVector = message.vector;
      this.completingAccepted = accepted;
      this.state.locked(this.completeDelivery);
    }
    this.outgoingCount = first;
  }

  /** A register read through IOWIN; unknown indices read 0. The caller holds the lock. */
  private readRegister(index: number): number {
    switch (index) {
      case IOAPICID:
      case IOAPICARB: // the arbitration ID is loaded from the APIC ID (3.2.3)
        return this.id << IOAPICID_SHIFT;
      case IOAPICVER:
        return VERSION_REGISTER;
    }
    const pin = redirectionPin(index);
    if (pin === undefined) return 0;
    return isHighHalf(index) ? this.redirectionHigh(pin) : this.redirectionLow(pin);
  }

  /** A register write through IOWIN; IOAPICVER, IOAPICARB and unknown indices ignore it. The caller holds the lock. */
  private writeRegister(index: number, value: number): void {
    if (index === IOAPICID) {
      this.id = (value >>> IOAPICID_SHIFT) & ID_MASK;
      return;
    }
    const pin = redirectionPin(index);
    if (pin === undefined) return;
    if (isHighHalf(index)) {
      this.setRedirectionHigh(pin, value & WRITABLE_HIGH);
      this.service(pin); // a new destination may accept an asserted level that found nobody
      return;
    }
    let low = (value & WRITABLE_LOW) | (this.redirectionLow(pin) & IOREDTBL_REMOTE_IRR);
    if (low & IOREDTBL_LEVEL_TRIGGERED) {
      this.pendingEdges &= ~(1 << pin); // a latched edge means nothing to a level entry
    } else {
      // Remote IRR is only defined for level entries (3.2.4 bit 14). Linux clears a stuck one
      // by rewriting the entry as edge-triggered and back (io_apic.c, __eoi_ioapic_pin, for
      // IO APICs below version 0x20, which have no EOI register), so an edge write clears it.
      low &= ~IOREDTBL_REMOTE_IRR;
    }
    this.setRedirectionLow(pin, low);
    this.service(pin); // unmasking sends a latched edge or an asserted level; a rewrite retries an unaccepted level
  }

  /**
   * Queues pin `pin`'s message if the entry may send now: unmasked, with an edge pending, or
   * with its level asserted, not in service (Remote IRR) and not already on its way. The
   * caller holds the lock.
   */
  private service(pin: number): void {
    const low = this.redirectionLow(pin);
    if (low & IOREDTBL_MASKED) return;
    const bit = 1 << pin;
    if (low & IOREDTBL_LEVEL_TRIGGERED) {
      if (!(this.pinLevels & bit) || low & IOREDTBL_REMOTE_IRR) return;
      if (this.levelInFlight & bit) {
        this.serviceInFlight |= bit;
        return;
      }
      this.levelInFlight |= bit;
    } else {
      if (!(this.pendingEdges & bit)) return;
      this.pendingEdges &= ~bit;
    }
    const count = this.outgoingCount++;
    this.outgoing[count] = this.messageFor(pin, low);
    this.outgoingPins[count] = pin;
  }

  /**
   * The second step of a level message's delivery, under the lock: pin `pin`'s message with
   * `vector` reached `accepted` Local APICs. Sets Remote IRR if one accepted it, unless its
   * EOI already came or the entry changed meanwhile (then services the pin as the EOI would);
   * if none did, leaves it clear, servicing the pin only when asked to while it was in flight.
   */
  private completeLevelDelivery(pin: number, vector: number, accepted: number): void {
    const bit = 1 << pin;
    const endedInFlight = (this.eoiInFlight & bit) !== 0;
    const serviceAsked = (this.serviceInFlight & bit) !== 0;
    this.levelInFlight &= ~bit;
    this.eoiInFlight &= ~bit;
    this.serviceInFlight &= ~bit;
    const low = this.redirectionLow(pin);
    const sameEntry = (low & IOREDTBL_LEVEL_TRIGGERED) !== 0 && (low & IOREDTBL_VECTOR) === vector;
    if (accepted > 0 && sameEntry && !endedInFlight) this.setRedirectionLow(pin, low | IOREDTBL_REMOTE_IRR);
    else if (accepted > 0 || serviceAsked) this.service(pin);
  }

  /** The message pin `pin`'s entry (low half `low`) sends: the last one made for it while the entry is unchanged. */
  private messageFor(pin: number, low: number): ApicMessage {
    const vector = low & IOREDTBL_VECTOR;
    const deliveryMode = (low >> IOREDTBL_DELIVERY_MODE_SHIFT) & DELIVERY_MODE_MASK;
    const logical = (low & IOREDTBL_LOGICAL) !== 0;
    const destination = this.redirectionHigh(pin) >>> IOREDTBL_DESTINATION_SHIFT;
    const levelTriggered = (low & IOREDTBL_LEVEL_TRIGGERED) !== 0;
    const last = this.messages[pin];
    if (
      last?.vector === vector &&
      last.deliveryMode === deliveryMode &&
      last.logical === logical &&
      last.destination === destination &&
      last.levelTriggered === levelTriggered
    ) {
      return last;
    }
    const message: ApicMessage = { vector, deliveryMode, logical, destination, levelTriggered };
    this.messages[pin] = message;
    return message;
  }

  private countIgnoredAccess(): void {
    this.state.set(IGNORED_ACCESSES, (this.state.get(IGNORED_ACCESSES) + 1) | 0);
  }

  // The registers, as fields over the shared state.
  private get selectedRegister() { return this.state.get(SELECTED_REGISTER); }
  private set selectedRegister(value: number) { this.state.set(SELECTED_REGISTER, value); }
  private get id() { return this.state.get(ID); }
  private set id(value: number) { this.state.set(ID, value); }
  private get pinLevels() { return this.state.get(PIN_LEVELS); }
  private set pinLevels(value: number) { this.state.set(PIN_LEVELS, value); }
  private get pendingEdges() { return this.state.get(PENDING_EDGES); }
  private set pendingEdges(value: number) { this.state.set(PENDING_EDGES, value); }
  private get levelInFlight() { return this.state.get(LEVEL_IN_FLIGHT); }
  private set levelInFlight(value: number) { this.state.set(LEVEL_IN_FLIGHT, value); }
  private get eoiInFlight() { return this.state.get(EOI_IN_FLIGHT); }
  private set eoiInFlight(value: number) { this.state.set(EOI_IN_FLIGHT, value); }
  private get serviceInFlight() { return this.state.get(SERVICE_IN_FLIGHT); }
  private set serviceInFlight(value: number) { this.state.set(SERVICE_IN_FLIGHT, value); }
  private redirectionLow(pin: number) { return this.state.get(REDIRECTION_LOW + pin) ^ IOREDTBL_MASKED; }
  private setRedirectionLow(pin: number, value: number) { this.state.set(REDIRECTION_LOW + pin, value ^ IOREDTBL_MASKED); }
  private redirectionHigh(pin: number) { return this.state.get(REDIRECTION_HIGH + pin) >>> 0; }
  private setRedirectionHigh(pin: number, value: number) { this.state.set(REDIRECTION_HIGH + pin, value); }
}

/** IOREGSEL as 32 bits, or its low byte alone (the register index): the accesses OSes make. */
function isRegisterSelect(offset: number, size: number): boolean {
  return offset === IOREGSEL && (size === 4 || size === 1);
}

/** IOWIN is 32 bits wide and only accessed whole (3.1.2). */
function isRegisterWindow(offset: number, size: number): boolean {
  return offset === IOWIN && size === 4;
}

/** The pin whose redirection entry register `index` is half of, if it is one. */
function redirectionPin(index: number): number | undefined {
  const pin = (index - IOREDTBL_FIRST) >> 1;
  return index >= IOREDTBL_FIRST && pin < IO_APIC_PIN_COUNT ? pin : undefined;
}

function isHighHalf(index: number): boolean {
  return ((index - IOREDTBL_FIRST) & 1) === 1;
}
