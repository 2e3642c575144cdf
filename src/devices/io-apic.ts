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
 * entry sends while its pin is asserted, the entry unmasked and Remote IRR clear, and sets
 * Remote IRR; the Local APIC's EOI broadcast for the vector (`endOfInterrupt`) clears it, and
 * the entry sends again if the pin is still asserted. Messages reach the sink at once, so
 * Delivery Status (3.2.4 bit 12) always reads 0 (idle).
 *
 * The registers and pin levels live in a SharedState: every vCPU thread (and the main
 * thread) builds its own IoApic over the same block and each operation takes its lock. A
 * zeroed block is the reset state (every entry masked, the mask bit is stored inverted), so
 * the platform creates the block and nothing more. Messages are collected under the lock
 * and sent after it is released, so a sink that reaches back into the IO APIC cannot
 * deadlock and a slow sink never holds up another vCPU's register access.
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
/** Redirection entry bits 31:0, XOR IOREDTBL_MASKED so that a zero word is the masked reset value. */
const REDIRECTION_LOW = 5;
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

  constructor(options: IoApicOptions) {
    this.sink = options.sink;
    this.state = options.state ?? new SharedState(IO_APIC_STATE_WORDS);
    if (this.state.wordCount < IO_APIC_STATE_WORDS) throw new RangeError('the IO APIC needs a larger shared state');
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
    this.update((outbox) => {
      const value = Number(littleEndianValue(data.subarray(0, 4)));
      if (isRegisterSelect(offset, data.length)) this.selectedRegister = value & 0xff;
      else if (isRegisterWindow(offset, data.length)) this.writeRegister(this.selectedRegister, value, outbox);
      else this.countIgnoredAccess();
    });
  }

  /** Drives input pin `pin` (0 to 23; others are ignored): `asserted` is the device's interrupt request. */
  setPinLevel(pin: number, asserted: boolean): void {
    if (!Number.isInteger(pin) || pin < 0 || pin >= IO_APIC_PIN_COUNT) return;
    this.update((outbox) => {
      const bit = 1 << pin;
      const wasAsserted = (this.pinLevels & bit) !== 0;
      this.pinLevels = asserted ? this.pinLevels | bit : this.pinLevels & ~bit;
      // An edge entry latches the rising edge whether or not it is masked; service() sends it when it may.
      if (asserted && !wasAsserted && !(this.redirectionLow(pin) & IOREDTBL_LEVEL_TRIGGERED)) this.pendingEdges |= bit;
      this.service(pin, outbox);
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
    this.update((outbox) => {
      for (let pin = 0; pin < IO_APIC_PIN_COUNT; pin++) {
        const low = this.redirectionLow(pin);
        if ((low & IOREDTBL_VECTOR) !== (vector & IOREDTBL_VECTOR) || !(low & IOREDTBL_REMOTE_IRR)) continue;
        this.setRedirectionLow(pin, low & ~IOREDTBL_REMOTE_IRR);
        this.service(pin, outbox);
      }
    });
  }

  /** How many accesses to the MMIO window were not to IOREGSEL or IOWIN as the data sheet allows, on any thread. */
  get ignoredAccesses(): number {
    return this.state.locked(() => this.state.get(IGNORED_ACCESSES) >>> 0);
  }

  /** Runs `action` under the lock, then sends the messages it queued. */
  private update(action: (outbox: ApicMessage[]) => void): void {
    const outbox: ApicMessage[] = [];
    this.state.locked(() => action(outbox));
    for (const message of outbox) this.sink.send(message);
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
  private writeRegister(index: number, value: number, outbox: ApicMessage[]): void {
    if (index === IOAPICID) {
      this.id = (value >>> IOAPICID_SHIFT) & ID_MASK;
      return;
    }
    const pin = redirectionPin(index);
    if (pin === undefined) return;
    if (isHighHalf(index)) {
      this.setRedirectionHigh(pin, value & WRITABLE_HIGH);
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
    this.service(pin, outbox); // unmasking sends a latched edge or an asserted level
  }

  /** Queues pin `pin`'s message if the entry may send now: unmasked, with an edge pending or a level not yet in service. */
  private service(pin: number, outbox: ApicMessage[]): void {
    const low = this.redirectionLow(pin);
    if (low & IOREDTBL_MASKED) return;
    const bit = 1 << pin;
    if (low & IOREDTBL_LEVEL_TRIGGERED) {
      if (!(this.pinLevels & bit) || low & IOREDTBL_REMOTE_IRR) return;
      this.setRedirectionLow(pin, low | IOREDTBL_REMOTE_IRR); // set as the Local APIC accepts it, cleared by its EOI
    } else {
      if (!(this.pendingEdges & bit)) return;
      this.pendingEdges &= ~bit;
    }
    outbox.push({
      vector: low & IOREDTBL_VECTOR,
      deliveryMode: (low >> IOREDTBL_DELIVERY_MODE_SHIFT) & DELIVERY_MODE_MASK,
      logical: (low & IOREDTBL_LOGICAL) !== 0,
      destination: this.redirectionHigh(pin) >>> IOREDTBL_DESTINATION_SHIFT,
      levelTriggered: (low & IOREDTBL_LEVEL_TRIGGERED) !== 0,
    });
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
