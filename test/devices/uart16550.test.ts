/** The 16550A model, register by register (PC16550D data sheet). */
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import type { ByteSink } from '../../src/devices/bus-device.js';
import { SharedState } from '../../src/devices/shared-state.js';
import * as uart from '../../src/devices/uart16550.js';

class RecordingLine {
  level = false;
  readonly changes: boolean[] = [];
  setLevel(asserted: boolean): void {
    this.level = asserted;
    this.changes.push(asserted);
  }
}

/** The host side of the line: takes `room` more bytes (all of them by default), then refuses, as a full output does. */
class HostLine implements ByteSink {
  readonly taken: number[] = [];
  room = Infinity;
  wakes = 0;
  offer(byte: number): boolean {
    if (this.room === 0) return false;
    this.room--;
    this.taken.push(byte);
    return true;
  }
  wakeDrainer(): void {
    this.wakes++;
  }
}

let line: RecordingLine;
let host: HostLine;
let output: number[];
let state: SharedState;
let device: uart.Uart16550;

beforeEach(() => {
  line = new RecordingLine();
  host = new HostLine();
  output = host.taken;
  state = new SharedState(uart.UART_STATE_WORDS);
  device = new uart.Uart16550({ irq: line, output: host, state });
});

const read = (offset: number) => device.readRegister(offset);
const write = (offset: number, value: number) => device.writeRegister(offset, value);
const text = (value: string) => new TextEncoder().encode(value);

describe('reset state', () => {
  it('has THR and the transmitter empty, no data, no interrupt', () => {
    expect(read(uart.UART_LSR)).toBe(uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE);
    expect(read(uart.UART_IER)).toBe(0);
    expect(read(uart.UART_LCR)).toBe(0);
    expect(read(uart.UART_MCR)).toBe(0);
    expect(line.changes).toEqual([]);
  });

  it('reports a connected peer in MSR (CTS, DSR, DCD) with no deltas', () => {
    expect(read(uart.UART_MSR)).toBe(uart.MSR_CTS | uart.MSR_DSR | uart.MSR_DCD);
  });
});

describe('THR (offset 0, write)', () => {
  it('sends each byte to the output sink at once while the host takes them', () => {
    for (const byte of text('hi\n')) write(uart.UART_THR, byte);
    expect(output).toEqual([...text('hi\n')]);
    expect(read(uart.UART_LSR) & (uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY)).toBe(uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY);
  });

  it('wakes the host side\'s drainer after each bus write, with the lock released', () => {
    const lockWord = new Int32Array(state.buffer, 0, 1);
    const locksSeen: number[] = [];
    host.wakeDrainer = () => locksSeen.push(Atomics.load(lockWord, 0));
    device.write(uart.UART_THR, text('a'));
    device.write(uart.UART_SCR, text('b'));
    expect(locksSeen).toEqual([0, 0]);
  });
});

const BUSY = 0; // LSR bits 5 and 6 both clear: the transmitter holds bytes in THR (or its FIFO) and TSR
const SHIFTING = uart.LSR_THR_EMPTY; // THR empty, TSR still holds a byte
const IDLE = uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY;
const transmitterBits = () => read(uart.UART_LSR) & IDLE;

describe('transmitter, with a host that refuses bytes (a full output)', () => {
  beforeEach(() => {
    host.room = 0;
  });

  it('with FIFOs off holds one byte in TSR and one in THR; LSR shows it; a third write is lost', () => {
    expect(transmitterBits()).toBe(IDLE);
    write(uart.UART_THR, 0x31);
    expect(transmitterBits()).toBe(SHIFTING); // THR moved into TSR at once; TSR cannot shift out
    write(uart.UART_THR, 0x32);
    expect(transmitterBits()).toBe(BUSY);
    write(uart.UART_THR, 0x33); // the guest did not wait for THRE
    expect(output).toEqual([]);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(output).toEqual([0x31, 0x32]);
    expect(transmitterBits()).toBe(IDLE);
  });

  it('with FIFOs on holds sixteen bytes in the FIFO and one in TSR, and sends them in order', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (let i = 0; i < 20; i++) write(uart.UART_THR, 0x40 + i);
    expect(transmitterBits()).toBe(BUSY);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(output).toEqual(Array.from({ length: 17 }, (_, i) => 0x40 + i)); // 0x51..0x53 found the FIFO full
    expect(transmitterBits()).toBe(IDLE);
  });

  it('sends as much as the host takes and keeps the rest, THRE clear until its FIFO is empty', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (let i = 0; i < 10; i++) write(uart.UART_THR, i);
    host.room = 4;
    device.resumeTransmitter();
    expect(output).toEqual([0, 1, 2, 3]);
    expect(transmitterBits()).toBe(BUSY);
    host.room = 5;
    device.resumeTransmitter(); // 4..8 leave; 9 moves into TSR and waits there
    expect(transmitterBits()).toBe(SHIFTING);
    host.room = 1;
    device.resumeTransmitter();
    expect(output).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(transmitterBits()).toBe(IDLE);
  });

  it('raises THR-empty only once the host drains the FIFO, so an interrupt-driven driver resumes', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    write(uart.UART_IER, uart.IER_THRE);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_THR_EMPTY | uart.IIR_FIFOS_ENABLED); // and the read clears it
    write(uart.UART_THR, 0x61); // into TSR at once: the FIFO empties, THR-empty again (data sheet: XMIT FIFO empty)
    expect(read(uart.UART_IIR)).toBe(uart.IIR_THR_EMPTY | uart.IIR_FIFOS_ENABLED);
    for (let i = 0; i < 16; i++) write(uart.UART_THR, 0x62 + i); // what the driver loads on that interrupt
    expect(line.level).toBe(false);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE | uart.IIR_FIFOS_ENABLED);
    host.room = 8;
    device.resumeTransmitter();
    expect(line.level).toBe(false); // the FIFO still holds bytes
    line.changes.length = 0;
    host.room = Infinity;
    device.resumeTransmitter();
    expect(line.changes).toEqual([true]);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_THR_EMPTY | uart.IIR_FIFOS_ENABLED);
    expect(output).toHaveLength(17);
  });

  it('does not raise THR-empty when IER.THRE is enabled while THR holds a byte, but when it empties', () => {
    write(uart.UART_THR, 1);
    write(uart.UART_THR, 2); // THR full (FIFOs off)
    write(uart.UART_IER, uart.IER_THRE);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(read(uart.UART_IIR)).toBe(uart.IIR_THR_EMPTY);
  });

  it('drops the FIFO\'s bytes on FCR bit 2 but not TSR\'s, and THR reads empty', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (const byte of text('abcd')) write(uart.UART_THR, byte);
    write(uart.UART_FCR, uart.FCR_ENABLE | uart.FCR_CLEAR_TX);
    expect(transmitterBits()).toBe(SHIFTING);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(output).toEqual([...text('a')]);
  });

  it('drops the FIFO\'s bytes when FIFOs are switched off', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (const byte of text('abcd')) write(uart.UART_THR, byte);
    write(uart.UART_FCR, 0);
    expect(transmitterBits()).toBe(SHIFTING);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(output).toEqual([...text('a')]);
  });

  it('sends what it held to the receiver when loopback is entered', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (const byte of text('xyz')) write(uart.UART_THR, byte);
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    expect(transmitterBits()).toBe(IDLE);
    expect([read(uart.UART_RBR), read(uart.UART_RBR), read(uart.UART_RBR)]).toEqual([...text('xyz')]);
    expect(output).toEqual([]);
  });

  it('holds at most seventeen bytes, however long the guest writes', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    for (let i = 0; i < 10_000; i++) write(uart.UART_THR, i & 0xff);
    host.room = Infinity;
    device.resumeTransmitter();
    expect(output).toHaveLength(17);
  });
});

describe('RBR (offset 0, read) and LSR.DR', () => {
  it('returns received bytes in order and clears DR when empty', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    expect(device.receive(text('ab'))).toBe(2);
    expect(read(uart.UART_LSR) & uart.LSR_DATA_READY).toBe(uart.LSR_DATA_READY);
    expect(read(uart.UART_RBR)).toBe(0x61);
    expect(read(uart.UART_RBR)).toBe(0x62);
    expect(read(uart.UART_LSR) & uart.LSR_DATA_READY).toBe(0);
  });

  it('keeps returning the last byte when nothing new arrived', () => {
    device.receive(text('z'));
    expect(read(uart.UART_RBR)).toBe(0x7a);
    expect(read(uart.UART_RBR)).toBe(0x7a);
  });

  it('holds one byte with the FIFOs off and sixteen with them on; the rest waits with the caller', () => {
    expect(device.receive(text('xyz'))).toBe(1);
    expect(device.receiveRoom).toBe(0);
    write(uart.UART_FCR, uart.FCR_ENABLE); // enabling the FIFOs clears them
    expect(device.receiveRoom).toBe(16);
    expect(device.receive(new Uint8Array(20).fill(0x41))).toBe(16);
    expect(device.receive(text('!'))).toBe(0);
  });
});

describe('divisor latch (DLAB)', () => {
  it('swaps offsets 0 and 1 for DLL and DLM while LCR.DLAB is set', () => {
    write(uart.UART_LCR, uart.LCR_DLAB | 0x03);
    write(uart.UART_DLL, 0x0c);
    write(uart.UART_DLM, 0x01);
    expect(read(uart.UART_DLL)).toBe(0x0c);
    expect(read(uart.UART_DLM)).toBe(0x01);
    expect(device.divisor).toBe(0x010c);
    expect(output).toEqual([]); // the DLL write did not transmit
    write(uart.UART_LCR, 0x03);
    expect(read(uart.UART_IER)).toBe(0); // IER untouched by the DLM write
    expect(read(uart.UART_LCR)).toBe(0x03);
  });
});

describe('IER (offset 1)', () => {
  it('keeps the low four bits only', () => {
    write(uart.UART_IER, 0xff);
    expect(read(uart.UART_IER)).toBe(0x0f);
  });
});

describe('IIR (offset 2, read) and interrupts', () => {
  it('raises THR-empty when IER.THRE is enabled and clears it when IIR is read', () => {
    write(uart.UART_IER, uart.IER_THRE);
    expect(line.level).toBe(true);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_THR_EMPTY);
    expect(line.level).toBe(false);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE);
  });

  it('gives an edge per transmitted byte while THR-empty is enabled', () => {
    write(uart.UART_IER, uart.IER_THRE);
    read(uart.UART_IIR);
    line.changes.length = 0;
    write(uart.UART_THR, 0x41);
    expect(line.changes).toEqual([true]);
    write(uart.UART_THR, 0x42);
    expect(line.changes).toEqual([true, false, true]);
  });

  it('raises received-data when a byte arrives and lowers it when RBR is read', () => {
    write(uart.UART_IER, uart.IER_RDA);
    device.receive(text('q'));
    expect(line.level).toBe(true);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_RECEIVED_DATA);
    read(uart.UART_RBR);
    expect(line.level).toBe(false);
  });

  it('reports a character timeout for data below the FIFO trigger level, received data at it', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE | (1 << 6)); // trigger level 4
    write(uart.UART_IER, uart.IER_RDA);
    device.receive(text('ab'));
    expect(read(uart.UART_IIR)).toBe(uart.IIR_CHARACTER_TIMEOUT | uart.IIR_FIFOS_ENABLED);
    device.receive(text('cd'));
    expect(read(uart.UART_IIR)).toBe(uart.IIR_RECEIVED_DATA | uart.IIR_FIFOS_ENABLED);
  });

  it('orders sources by priority: line status, received data, THR empty, modem status', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    write(uart.UART_IER, uart.IER_RDA | uart.IER_THRE | uart.IER_RLS | uart.IER_MS);
    write(uart.UART_MCR, uart.MCR_LOOPBACK); // CTS, DSR, DCD drop: modem-status deltas
    for (let i = 0; i < 17; i++) write(uart.UART_THR, 0x30 + i); // the 17th byte overruns
    expect(read(uart.UART_IIR) & 0x0f).toBe(uart.IIR_LINE_STATUS);
    expect(read(uart.UART_LSR) & uart.LSR_OVERRUN).toBe(uart.LSR_OVERRUN); // reading LSR clears it
    expect(read(uart.UART_IIR) & 0x0f).toBe(uart.IIR_RECEIVED_DATA);
    write(uart.UART_FCR, uart.FCR_ENABLE | uart.FCR_CLEAR_RX);
    expect(read(uart.UART_IIR) & 0x0f).toBe(uart.IIR_THR_EMPTY); // the read clears THR-empty
    expect(read(uart.UART_IIR) & 0x0f).toBe(uart.IIR_MODEM_STATUS);
    read(uart.UART_MSR);
    expect(read(uart.UART_IIR) & 0x0f).toBe(uart.IIR_NONE);
    expect(line.level).toBe(false);
  });
});

describe('FCR (offset 2, write)', () => {
  it('shows FIFOs enabled in IIR bits 7:6', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE | uart.IIR_FIFOS_ENABLED);
    write(uart.UART_FCR, 0);
    expect(read(uart.UART_IIR)).toBe(uart.IIR_NONE);
  });

  it('clears the receive FIFO on request', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    device.receive(text('abc'));
    write(uart.UART_FCR, uart.FCR_ENABLE | uart.FCR_CLEAR_RX);
    expect(read(uart.UART_LSR) & uart.LSR_DATA_READY).toBe(0);
  });
});

describe('LCR (offset 3)', () => {
  it('stores all eight bits', () => {
    write(uart.UART_LCR, 0x5b);
    expect(read(uart.UART_LCR)).toBe(0x5b);
  });
});

describe('MCR (offset 4) and loopback', () => {
  it('keeps the low five bits only', () => {
    write(uart.UART_MCR, 0xff);
    expect(read(uart.UART_MCR)).toBe(0x1f);
  });

  it('loops transmitted bytes into the receive FIFO and not to the output', () => {
    write(uart.UART_FCR, uart.FCR_ENABLE);
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    write(uart.UART_THR, 0x55);
    expect(output).toEqual([]);
    expect(read(uart.UART_RBR)).toBe(0x55);
  });

  it('refuses host input while in loopback (the line is disconnected)', () => {
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    expect(device.receive(text('a'))).toBe(0);
    expect(device.receiveRoom).toBe(0);
  });

  it('feeds RTS->CTS, DTR->DSR, OUT1->RI, OUT2->DCD in loopback, with delta bits', () => {
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    read(uart.UART_MSR); // clear the deltas from entering loopback
    write(uart.UART_MCR, uart.MCR_LOOPBACK | uart.MCR_RTS | uart.MCR_DTR | uart.MCR_OUT1 | uart.MCR_OUT2);
    expect(read(uart.UART_MSR)).toBe(
      uart.MSR_CTS | uart.MSR_DSR | uart.MSR_RI | uart.MSR_DCD | uart.MSR_DCTS | uart.MSR_DDSR | uart.MSR_DDCD,
    );
    write(uart.UART_MCR, uart.MCR_LOOPBACK | uart.MCR_RTS | uart.MCR_DTR | uart.MCR_OUT2); // RI falls: TERI
    expect(read(uart.UART_MSR)).toBe(uart.MSR_CTS | uart.MSR_DSR | uart.MSR_DCD | uart.MSR_TERI);
  });
});

describe('LSR (offset 5)', () => {
  it('reports an overrun once and ignores writes', () => {
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    write(uart.UART_THR, 1);
    write(uart.UART_THR, 2); // FIFOs off: one-byte holding register, so this one is lost
    expect(read(uart.UART_LSR)).toBe(uart.LSR_DATA_READY | uart.LSR_OVERRUN | uart.LSR_THR_EMPTY | uart.LSR_TRANSMITTER_EMPTY);
    expect(read(uart.UART_LSR) & uart.LSR_OVERRUN).toBe(0);
    write(uart.UART_LSR, 0);
    expect(read(uart.UART_RBR)).toBe(1);
  });
});

describe('MSR (offset 6)', () => {
  it('clears its delta bits when read', () => {
    write(uart.UART_MCR, uart.MCR_LOOPBACK);
    expect(read(uart.UART_MSR) & 0x0f).toBe(uart.MSR_DCTS | uart.MSR_DDSR | uart.MSR_DDCD);
    expect(read(uart.UART_MSR) & 0x0f).toBe(0);
  });
});

describe('SCR (offset 7)', () => {
  it('stores a byte', () => {
    write(uart.UART_SCR, 0xa5);
    expect(read(uart.UART_SCR)).toBe(0xa5);
  });
});

describe('bus accesses', () => {
  it('splits a wide access into one register access per byte', () => {
    write(uart.UART_SCR, 0x77);
    const data = new Uint8Array(2);
    device.read(uart.UART_MSR, data);
    expect(data).toEqual(new Uint8Array([uart.MSR_CTS | uart.MSR_DSR | uart.MSR_DCD, 0x77]));
  });

  it('reads all ones past its eight registers and never throws', () => {
    const data = new Uint8Array(4);
    device.read(6, data);
    expect(Array.from(data.subarray(2))).toEqual([0xff, 0xff]);
    expect(() => device.write(7, new Uint8Array(8))).not.toThrow();
  });
});

describe('any sequence of accesses', () => {
  /** What the guest does, one step at a time, and what the host's side does between steps. */
  const step = fc.oneof(
    fc.record({ kind: fc.constant('write' as const), offset: fc.constant(uart.UART_THR), value: fc.constant(0) }),
    fc.record({ kind: fc.constant('write' as const), offset: fc.integer({ min: 0, max: 9 }), value: fc.integer({ min: 0, max: 0xff }) }),
    fc.record({ kind: fc.constant('read' as const), offset: fc.integer({ min: 0, max: 9 }) }),
    fc.record({ kind: fc.constant('wide' as const), offset: fc.integer({ min: 0, max: 7 }), bytes: fc.uint8Array({ minLength: 2, maxLength: 8 }), isWrite: fc.boolean() }),
    fc.record({ kind: fc.constant('host' as const), room: fc.integer({ min: 0, max: 40 }) }),
    fc.record({ kind: fc.constant('receive' as const), bytes: fc.uint8Array({ maxLength: 20 }) }),
  );

  it('never throw, and send only bytes written to THR, each once, in the order written', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(step, { maxLength: 200, size: 'max' }), (fifos, steps) => {
        line = new RecordingLine();
        host = new HostLine();
        output = host.taken;
        device = new uart.Uart16550({ irq: line, output: host });
        write(uart.UART_FCR, fifos ? uart.FCR_ENABLE : 0);
        host.room = 0;
        // THR bytes are numbered (at most 200 of them, so each value is unique): whatever reaches
        // the host must then be an increasing run of them.
        const written: number[] = [];
        const writeByte = (offset: number, value: number) => {
          if (offset === uart.UART_THR && !(read(uart.UART_LCR) & uart.LCR_DLAB)) {
            value = written.length;
            written.push(value);
          }
          write(offset, value);
        };
        for (const s of steps) {
          if (s.kind === 'write') writeByte(s.offset, s.value);
          else if (s.kind === 'read') read(s.offset);
          else if (s.kind === 'wide') {
            if (s.isWrite) for (let i = 0; i < s.bytes.length; i++) writeByte(s.offset + i, s.bytes[i] as number);
            else device.read(s.offset, s.bytes);
          } else if (s.kind === 'host') {
            host.room = s.room;
            device.resumeTransmitter();
          } else device.receive(s.bytes);
        }
        host.room = Infinity;
        device.resumeTransmitter();
        for (let i = 1; i < output.length; i++) expect(output[i]).toBeGreaterThan(output[i - 1] as number);
        expect(output.every((byte) => written.includes(byte))).toBe(true);
        expect(transmitterBits()).toBe(IDLE); // with the host taking everything, nothing stays behind
      }),
      { numRuns: 300 },
    );
  });

  it('lose nothing a driver that waits for THRE writes, whatever the host takes when', () => {
    const driverStep = fc.oneof(
      fc.constant({ kind: 'putc' as const }),
      fc.record({ kind: fc.constant('host' as const), room: fc.integer({ min: 0, max: 20 }) }),
      fc.record({ kind: fc.constant('poll' as const), offset: fc.constantFrom(uart.UART_IIR, uart.UART_LSR, uart.UART_MSR, uart.UART_SCR) }),
      fc.record({ kind: fc.constant('ier' as const), value: fc.integer({ min: 0, max: 0x0f }) }),
    );
    fc.assert(
      fc.property(fc.boolean(), fc.array(driverStep, { maxLength: 400, size: 'max' }), (fifos, steps) => {
        line = new RecordingLine();
        host = new HostLine();
        output = host.taken;
        device = new uart.Uart16550({ irq: line, output: host });
        write(uart.UART_FCR, fifos ? uart.FCR_ENABLE : 0);
        host.room = 0;
        const sent: number[] = [];
        for (const s of steps) {
          if (s.kind === 'putc') {
            if (read(uart.UART_LSR) & uart.LSR_THR_EMPTY) {
              // With THR empty the driver may load a whole FIFO's worth (the data sheet's 1 to 16 characters).
              for (let i = 0; i < (fifos ? uart.UART_FIFO_SIZE : 1); i++) {
                const byte = sent.length & 0xff;
                sent.push(byte);
                write(uart.UART_THR, byte);
              }
            }
          } else if (s.kind === 'host') {
            host.room = s.room;
            device.resumeTransmitter();
          } else if (s.kind === 'poll') read(s.offset);
          else write(uart.UART_IER, s.value);
        }
        host.room = Infinity;
        device.resumeTransmitter();
        expect(output).toEqual(sent);
      }),
      { numRuns: 300 },
    );
  });
});
