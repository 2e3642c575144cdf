/**
 * What a device model exposes to a bus, and the small interfaces a device receives
 * instead of importing anything from the VMM: an interrupt line and a byte sink.
 */

/**
 * A device on a bus. `offset` is relative to the start of the device's range; `data` holds
 * the access's bytes in guest (little-endian) order, 1 to 8 of them. A read fills `data`,
 * a write consumes it. A device must accept any offset in its range and any length
 * without throwing: a guest may access anything.
 */
export interface BusDevice {
  read(offset: number, data: Uint8Array): void;
  write(offset: number, data: Uint8Array): void;
}

/** An interrupt request line from a device: the device drives its level. */
export interface InterruptLine {
  setLevel(asserted: boolean): void;
}

/** A line not wired to any interrupt controller: its level goes nowhere. */
export const UNCONNECTED_LINE: InterruptLine = { setLevel() {} };

/**
 * The host end of a device's output line (the ring the main thread drains to a terminal or a
 * file, a test's buffer). The device offers it bytes under its own lock, so a sink never waits
 * and never makes a system call in offer(): it takes a byte while it has room and refuses it
 * otherwise, leaving it with the device (a UART holds it in its transmitter, busy).
 */
export interface ByteSink {
  /** Takes `byte`, or refuses it (false) for want of room; the device offers it again once told there is room. */
  offer(byte: number): boolean;
  /** Lets whoever empties the sink know that bytes may have arrived: the device calls it after releasing its lock. */
  wakeDrainer(): void;
}

/** The little-endian value of an access's bytes (at most 8): what a register write carries. */
export function littleEndianValue(data: Uint8Array): bigint {
  let value = 0n;
  for (let i = data.length - 1; i >= 0; i--) value = (value << 8n) | BigInt(data[i] as number);
  return value;
}
