/**
 * A 16550A UART (National Semiconductor PC16550D data sheet), as a state machine.
 *
 * Eight byte-wide registers; DLAB (LCR bit 7) swaps offsets 0 and 1 for the divisor latch.
 *
 * Transmit side: a byte written to THR joins the transmit FIFO (16 bytes with FIFOs enabled,
 * the one-byte holding register otherwise); the transmitter moves it into the shift register
 * (TSR) and from there onto the line, the injected ByteSink: the host's output buffer. There
 * is no baud-rate timing: a byte leaves as soon as the sink takes it. When the sink refuses
 * (the host's output is full: a pipe nobody reads), the byte stays in TSR and the next ones in
 * the FIFO, and LSR shows the transmitter busy (THRE and TEMT clear) as a line held by flow
 * control would, until the host drains and calls `resumeTransmitter()`; the FIFO then
 * empties and the THR-empty interrupt fires, so polled and interrupt-driven drivers both
 * resume. Bytes leave in the order they were written; none is dropped unless the guest writes
 * THR while LSR says it is full. In loopback the shift register feeds the receiver instead.
 *
 * Receive side: a 16-byte FIFO (a one-byte holding register while FIFOs are off), fed by
 * `receive()`. Interrupts are raised on an injected InterruptLine, by priority as the data
 * sheet's Table IV orders them. The FIFO's character-timeout condition is modelled with a zero
 * timeout: data below the trigger level is reported as a timeout at once, so a driver always
 * learns of it.
 *
 * The registers and both FIFOs live in a SharedState, so that every vCPU thread (and the main
 * thread, which feeds host input and drains the output) works on the same UART: each access
 * takes its lock. Under it the UART may take the interrupt controller's lock (the line's
 * setLevel) and write into the sink (which never waits); nothing else. The sink's drainer is
 * woken after the lock is released.
 */
import type { BusDevice, ByteSink, InterruptLine } from './bus-device.js';
import { SharedState } from './shared-state.js';

/** Register offsets. */
export const UART_RBR = 0; // receive buffer (read, DLAB = 0)
export const UART_THR = 0; // transmit holding (write, DLAB = 0)
export const UART_DLL = 0; // divisor latch, low byte (DLAB = 1)
export const UART_IER = 1; // interrupt enable (DLAB = 0)
export const UART_DLM = 1; // divisor latch, high byte (DLAB = 1)
export const UART_IIR = 2; // interrupt identification (read)
export const UART_FCR = 2; // FIFO control (write)
export const UART_LCR = 3; // line control
export const UART_MCR = 4; // modem control
export const UART_LSR = 5; // line status
export const UART_MSR = 6; // modem status
export const UART_SCR = 7; // scratch

/** The number of I/O ports a 16550 occupies. */
export const UART_REGISTER_COUNT = 8;

// IER bits
export const IER_RDA = 0x01; // received data available
export const IER_THRE = 0x02; // transmitter holding register empty
export const IER_RLS = 0x04; // receiver line status
export const IER_MS = 0x08; // modem status
const IER_MASK = 0x0f;

// IIR values: bit 0 = 1 means no interrupt pending; bits 3:1 identify the source.
export const IIR_NONE = 0x01;
export const IIR_MODEM_STATUS = 0x00;
export const IIR_THR_EMPTY = 0x02;
export const IIR_RECEIVED_DATA = 0x04;
export const IIR_LINE_STATUS = 0x06;
export const IIR_CHARACTER_TIMEOUT = 0x0c;
export const IIR_FIFOS_ENABLED = 0xc0;

// FCR bits
export const FCR_ENABLE = 0x01;
export const FCR_CLEAR_RX = 0x02;
export const FCR_CLEAR_TX = 0x04;
const FCR_TRIGGER_SHIFT = 6;
/** Receive FIFO trigger levels selected by FCR bits 7:6. */
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

// LCR bits
export const LCR_DLAB = 0x80;

// MCR bits
export const MCR_DTR = 0x01;
export const MCR_RTS = 0x02;
export const MCR_OUT1 = 0x04;
export const MCR_OUT2 = 0x08;
export const MCR_LOOPBACK = 0x10;
const MCR_MASK = 0x1f;

// LSR bits
export const LSR_DATA_READY = 0x01;
export const LSR_OVERRUN = 0x02;
export const LSR_PARITY = 0x04;
export const LSR_FRAMING = 0x08;
export const LSR_BREAK = 0x10;
export const LSR_THR_EMPTY = 0x20;
export const LSR_TRANSMITTER_EMPTY = 0x40;
export const LSR_FIFO_ERROR = 0x80;

// MSR bits: deltas in 3:0, line states in 7:4.
export const MSR_DCTS = 0x01;
export const MSR_DDSR = 0x02;
export const MSR_TERI = 0x04;
export const MSR_DDCD = 0x08;
export const MSR_CTS = 0x10;
export const MSR_DSR = 0x20;
export const MSR_RI = 0x40;
export const MSR_DCD = 0x80;
/** Outside loopback the host terminal is a connected, ready peer: CTS, DSR and DCD asserted. */
const MSR_CONNECTED = MSR_CTS | MSR_DSR | MSR_DCD;

export const UART_FIFO_SIZE = 16;

/** The words of the UART's shared state. */
const IER = 0;
const LCR = 1;
const MCR = 2;
const LSR_ERRORS = 3; // overrun and friends, cleared when LSR is read
const MSR_DELTAS = 4; // MSR 3:0, cleared when MSR is read
const SCR = 5;
const DIVISOR = 6;
const FIFO_ENABLED = 7;
const TRIGGER_LEVEL = 8;
const THR_EMPTY_PENDING = 9; // latched until IIR reports it or THR is written
const LAST_RECEIVED = 10; // what RBR returns when nothing new has arrived
const RX_HEAD = 11;
const RX_COUNT = 12;
const IRQ_ASSERTED = 13;
const TX_HEAD = 14;
const TX_COUNT = 15;
const TSR_FULL = 16; // the shift register holds TSR_BYTE, which the sink has not taken yet
const TSR_BYTE = 17;
const RX_FIFO = 18; // UART_FIFO_SIZE words, one byte each
const TX_FIFO = RX_FIFO + UART_FIFO_SIZE; // likewise
/** The number of words a UART's shared state holds. */
export const UART_STATE_WORDS = TX_FIFO + UART_FIFO_SIZE;

export interface Uart16550Options {
  /** The UART's interrupt request line (IRQ 4 for COM1 on a PC). */
  readonly irq: InterruptLine;
  /** Where transmitted bytes go: the host's output buffer, shared by every thread's view of this UART. */
  readonly output: ByteSink;
  /** The state shared with the other threads' views of this UART (a fresh one when omitted). */
  readonly state?: SharedState;
}

export class Uart16550 implements BusDevice {
  private readonly irq: InterruptLine;
  private readonly output: ByteSink;
  private readonly state: SharedState;

  constructor(options: Uart16550Options) {
    this.irq = options.irq;
    this.output = options.output;
    this.state = options.state ?? new SharedState(UART_STATE_WORDS);
    if (this.state.wordCount < UART_STATE_WORDS) throw new RangeError('the UART needs a larger shared state');
    this.state.locked(() => {
      if (this.triggerLevel === 0) this.triggerLevel = 1; // a fresh state: the reset value
    });
  }

  /**
   * A machine reset (the 16550D's MR input, its data sheet's "Reset" table): every register
   * back to its power-on value, both FIFOs emptied, the interrupt line lowered. Bytes already
   * handed to the host's output ring stay there: they left the UART before the reset.
   */
  reset(): void {
    this.state.locked(() => {
      const wasAsserted = this.irqAsserted;
      this.state.zero();
      this.triggerLevel = 1;
      if (wasAsserted) this.irq.setLevel(false);
    });
  }

  read(offset: number, data: Uint8Array): void {
    this.state.locked(() => {
      for (let i = 0; i < data.length; i++) data[i] = this.readRegister(offset + i);
    });
  }

  write(offset: number, data: Uint8Array): void {
    this.state.locked(() => {
      for (let i = 0; i < data.length; i++) this.writeRegister(offset + i, data[i] as number);
    });
    this.output.wakeDrainer();
  }

  /**
   * The host's side of the line has room again (its drainer freed some): the transmitter sends
   * what it holds, and THR-empty is raised once its FIFO has emptied. Called on the thread
   * that drains the output.
   */
  resumeTransmitter(): void {
    this.state.locked(() => {
      this.transmit();
      this.updateInterrupt();
    });
  }

  /**
   * Bytes from the host side of the line. Returns how many were taken: at most the room
   * left in the receive FIFO, none in loopback (the line is disconnected). The caller
   * keeps the rest and offers them again later, so no input is ever dropped.
   */
  receive(bytes: Uint8Array): number {
    return this.state.locked(() => {
      if (this.mcr & MCR_LOOPBACK) return 0;
      const accepted = Math.min(bytes.length, this.rxCapacity - this.rxCount);
      for (let i = 0; i < accepted; i++) this.pushReceived(bytes[i] as number);
      if (accepted > 0) this.updateInterrupt();
      return accepted;
    });
  }

  /** Room the receive side has for host input right now. */
  get receiveRoom(): number {
    return this.state.locked(() => (this.mcr & MCR_LOOPBACK ? 0 : this.rxCapacity - this.rxCount));
  }

  /** The divisor latch (the baud rate is 115200 / divisor). */
  get divisor(): number {
    return this.state.get(DIVISOR);
  }

  /** A register read, as the guest sees it; the caller holds the lock (tests call it directly). */
  readRegister(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UART_RBR:
        return dlab ? this.divisorLatch & 0xff : this.popReceived();
      case UART_IER:
        return dlab ? this.divisorLatch >> 8 : this.ier;
      case UART_IIR:
        return this.readIir();
      case UART_LCR:
        return this.lcr;
      case UART_MCR:
        return this.mcr;
      case UART_LSR:
        return this.readLsr();
      case UART_MSR:
        return this.readMsr();
      case UART_SCR:
        return this.scr;
      default:
        return 0xff; // beyond the eight registers: nothing drives the bus
    }
  }

  /** A register write; the caller holds the lock (tests call it directly). */
  writeRegister(offset: number, value: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case UART_THR:
        if (dlab) this.divisorLatch = (this.divisorLatch & 0xff00) | value;
        else this.writeThr(value);
        return;
      case UART_IER:
        if (dlab) this.divisorLatch = (this.divisorLatch & 0x00ff) | (value << 8);
        else this.writeIer(value);
        return;
      case UART_FCR:
        this.writeFcr(value);
        return;
      case UART_LCR:
        this.lcr = value;
        return;
      case UART_MCR:
        this.writeMcr(value);
        return;
      case UART_SCR:
        this.scr = value;
        return;
      // LSR and MSR are read-only (their writes are factory-test only); other offsets are not ours.
    }
  }

  private get rxCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  /** THR, or the transmit FIFO. */
  private get txCapacity(): number {
    return this.fifoEnabled ? UART_FIFO_SIZE : 1;
  }

  // The registers, as fields over the shared state.
  private get ier() { return this.state.get(IER); }
  private set ier(value: number) { this.state.set(IER, value); }
  private get lcr() { return this.state.get(LCR); }
  private set lcr(value: number) { this.state.set(LCR, value); }
  private get mcr() { return this.state.get(MCR); }
  private set mcr(value: number) { this.state.set(MCR, value); }
  private get lsrErrors() { return this.state.get(LSR_ERRORS); }
  private set lsrErrors(value: number) { this.state.set(LSR_ERRORS, value); }
  private get msrDeltas() { return this.state.get(MSR_DELTAS); }
  private set msrDeltas(value: number) { this.state.set(MSR_DELTAS, value); }
  private get scr() { return this.state.get(SCR); }
  private set scr(value: number) { this.state.set(SCR, value); }
  private get divisorLatch() { return this.state.get(DIVISOR); }
  private set divisorLatch(value: number) { this.state.set(DIVISOR, value); }
  private get fifoEnabled() { return this.state.get(FIFO_ENABLED) !== 0; }
  private set fifoEnabled(value: boolean) { this.state.set(FIFO_ENABLED, value ? 1 : 0); }
  private get triggerLevel() { return this.state.get(TRIGGER_LEVEL); }
  private set triggerLevel(value: number) { this.state.set(TRIGGER_LEVEL, value); }
  private get thrEmptyPending() { return this.state.get(THR_EMPTY_PENDING) !== 0; }
  private set thrEmptyPending(value: boolean) { this.state.set(THR_EMPTY_PENDING, value ? 1 : 0); }
  private get lastReceived() { return this.state.get(LAST_RECEIVED); }
  private set lastReceived(value: number) { this.state.set(LAST_RECEIVED, value); }
  private get rxHead() { return this.state.get(RX_HEAD); }
  private set rxHead(value: number) { this.state.set(RX_HEAD, value); }
  private get rxCount() { return this.state.get(RX_COUNT); }
  private set rxCount(value: number) { this.state.set(RX_COUNT, value); }
  private get irqAsserted() { return this.state.get(IRQ_ASSERTED) !== 0; }
  private set irqAsserted(value: boolean) { this.state.set(IRQ_ASSERTED, value ? 1 : 0); }
  private get txHead() { return this.state.get(TX_HEAD); }
  private set txHead(value: number) { this.state.set(TX_HEAD, value); }
  private get txCount() { return this.state.get(TX_COUNT); }
  private set txCount(value: number) { this.state.set(TX_COUNT, value); }
  private get tsrFull() { return this.state.get(TSR_FULL) !== 0; }
  private set tsrFull(value: boolean) { this.state.set(TSR_FULL, value ? 1 : 0); }
  private get tsrByte() { return this.state.get(TSR_BYTE); }
  private set tsrByte(value: number) { this.state.set(TSR_BYTE, value); }

  private writeThr(value: number): void {
    // Writing THR clears the THR-empty interrupt (Table IV); the line drops now, so that the
    // FIFO emptying again gives a new edge: one per byte while the host takes them at once.
    this.thrEmptyPending = false;
    this.updateInterrupt();
    // A byte written to a full FIFO is lost: the guest did not wait for THRE (LSR bit 5).
    if (this.txCount < this.txCapacity) {
      this.state.set(TX_FIFO + ((this.txHead + this.txCount) % UART_FIFO_SIZE), value);
      this.txCount++;
    }
    this.transmit();
    this.updateInterrupt();
  }

  /**
   * The transmitter: FIFO -> TSR -> line, for as long as the line takes bytes. It stops at the
   * first refusal with that byte kept in TSR, and raises THR-empty when it empties the FIFO
   * (data sheet, "FIFO Interrupt Mode Operation": the THR interrupt occurs when the XMIT FIFO
   * is empty).
   */
  private transmit(): void {
    const held = this.txCount;
    for (;;) {
      if (this.tsrFull) {
        if (!this.sendFromShiftRegister(this.tsrByte)) break;
        this.tsrFull = false;
      }
      if (this.txCount === 0) break;
      this.tsrByte = this.state.get(TX_FIFO + this.txHead);
      this.tsrFull = true;
      this.txHead = (this.txHead + 1) % UART_FIFO_SIZE;
      this.txCount--;
    }
    if (held > 0 && this.txCount === 0) this.thrEmptyPending = true;
  }

  /** Puts the shift register's byte on the line; false when the host refuses it for now. */
  private sendFromShiftRegister(value: number): boolean {
    if (!(this.mcr & MCR_LOOPBACK)) return this.output.offer(value);
    // Loopback (MCR bit 4): TSR's output enters the receiver; with the receive FIFO full it is
    // lost, as an overrun.
    if (this.rxCount < this.rxCapacity) this.pushReceived(value);
    else this.lsrErrors |= LSR_OVERRUN;
    return true;
  }

  /** FCR bit 2, or FCR bit 0 changing: the transmit FIFO's bytes are dropped; TSR keeps its own. */
  private clearTransmitFifo(): void {
    if (this.txCount > 0) this.thrEmptyPending = true; // THR empties: that is the interrupt's condition
    this.txHead = 0;
    this.txCount = 0;
  }

  private writeIer(value: number): void {
    const enablingThre = (value & IER_THRE) !== 0 && (this.ier & IER_THRE) === 0;
    this.ier = value & IER_MASK;
    // Enabling the THR-empty interrupt while THR is empty raises it.
    if (enablingThre && this.txCount === 0) this.thrEmptyPending = true;
    this.updateInterrupt();
  }

  private writeFcr(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    if (enable !== this.fifoEnabled) {
      // Switching the FIFOs on or off clears them.
      this.fifoEnabled = enable;
      this.clearReceived();
      this.clearTransmitFifo();
    }
    if (enable) {
      if (value & FCR_CLEAR_RX) this.clearReceived();
      if (value & FCR_CLEAR_TX) this.clearTransmitFifo();
      this.triggerLevel = TRIGGER_LEVELS[(value >> FCR_TRIGGER_SHIFT) & 3] as number;
    }
    this.updateInterrupt();
  }

  private writeMcr(value: number): void {
    const before = this.modemLines();
    const loopbackBefore = this.mcr & MCR_LOOPBACK;
    this.mcr = value & MCR_MASK;
    // Into loopback, what the transmitter held for the host goes to the receiver instead.
    if ((this.mcr & MCR_LOOPBACK) !== loopbackBefore) this.transmit();
    const after = this.modemLines();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.msrDeltas |= MSR_DCTS;
    if (changed & MSR_DSR) this.msrDeltas |= MSR_DDSR;
    if (before & MSR_RI && !(after & MSR_RI)) this.msrDeltas |= MSR_TERI; // trailing edge of RI
    if (changed & MSR_DCD) this.msrDeltas |= MSR_DDCD;
    this.updateInterrupt();
  }

  /** MSR 7:4: in loopback the modem outputs feed the modem inputs (RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD). */
  private modemLines(): number {
    if (!(this.mcr & MCR_LOOPBACK)) return MSR_CONNECTED;
    let lines = 0;
    if (this.mcr & MCR_RTS) lines |= MSR_CTS;
    if (this.mcr & MCR_DTR) lines |= MSR_DSR;
    if (this.mcr & MCR_OUT1) lines |= MSR_RI;
    if (this.mcr & MCR_OUT2) lines |= MSR_DCD;
    return lines;
  }

  private readLsr(): number {
    let lsr = this.lsrErrors;
    if (this.rxCount > 0) lsr |= LSR_DATA_READY;
    // THRE: the FIFO (or THR) is empty; TEMT: so is TSR (LSR bits 5 and 6).
    if (this.txCount === 0) lsr |= this.tsrFull ? LSR_THR_EMPTY : LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY;
    // Reading LSR clears the error bits (and the line-status interrupt with them).
    if (this.lsrErrors) {
      this.lsrErrors = 0;
      this.updateInterrupt();
    }
    return lsr;
  }

  private readMsr(): number {
    const msr = this.modemLines() | this.msrDeltas;
    if (this.msrDeltas) {
      this.msrDeltas = 0;
      this.updateInterrupt();
    }
    return msr;
  }

  private readIir(): number {
    const source = this.pendingSource();
    // Reading IIR while it reports THR empty clears that interrupt.
    if (source === IIR_THR_EMPTY) {
      this.thrEmptyPending = false;
      this.updateInterrupt();
    }
    return source | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  /** The highest-priority pending, enabled interrupt source (data sheet Table IV), or IIR_NONE. */
  private pendingSource(): number {
    if (this.ier & IER_RLS && this.lsrErrors) return IIR_LINE_STATUS;
    if (this.ier & IER_RDA && this.rxCount > 0) {
      if (!this.fifoEnabled || this.rxCount >= this.triggerLevel) return IIR_RECEIVED_DATA;
      return IIR_CHARACTER_TIMEOUT;
    }
    if (this.ier & IER_THRE && this.thrEmptyPending) return IIR_THR_EMPTY;
    if (this.ier & IER_MS && this.msrDeltas) return IIR_MODEM_STATUS;
    return IIR_NONE;
  }

  private updateInterrupt(): void {
    const asserted = this.pendingSource() !== IIR_NONE;
    if (asserted !== this.irqAsserted) {
      this.irqAsserted = asserted;
      this.irq.setLevel(asserted);
    }
  }

  private pushReceived(value: number): void {
    this.state.set(RX_FIFO + ((this.rxHead + this.rxCount) % UART_FIFO_SIZE), value);
    this.rxCount++;
  }

  private popReceived(): number {
    if (this.rxCount === 0) return this.lastReceived;
    this.lastReceived = this.state.get(RX_FIFO + this.rxHead);
    this.rxHead = (this.rxHead + 1) % UART_FIFO_SIZE;
    this.rxCount--;
    this.updateInterrupt();
    return this.lastReceived;
  }

  private clearReceived(): void {
    this.rxHead = 0;
    this.rxCount = 0;
  }
}
