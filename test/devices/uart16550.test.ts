/** The 16550A model, register by register (PC16550D data sheet). */
import { beforeEach, describe, expect, it } from 'vitest';
import * as uart from '../../src/devices/uart16550.js';

class RecordingLine {
  level = false;
  readonly changes: boolean[] = [];
  setLevel(asserted: boolean): void {
    this.level = asserted;
    this.changes.push(asserted);
  }
}

let line: RecordingLine;
let output: number[];
let device: uart.Uart16550;

beforeEach(() => {
  line = new RecordingLine();
  output = [];
  device = new uart.Uart16550({ irq: line, output: { write: (bytes) => output.push(...bytes) } });
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
  it('sends each byte to the output sink at once', () => {
    for (const byte of text('hi\n')) write(uart.UART_THR, byte);
    expect(output).toEqual([...text('hi\n')]);
    expect(read(uart.UART_LSR) & uart.LSR_THR_EMPTY).toBe(uart.LSR_THR_EMPTY);
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
