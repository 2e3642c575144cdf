/**
 * A debug-exit port compatible with QEMU's isa-debug-exit (placed at I/O port 0xf4, four
 * bytes wide): a write ends the VM, and tsvisor exits with (value << 1) | 1. The status
 * is odd by construction, so a guest can never make it read as plain success.
 */
import { littleEndianValue, type BusDevice } from './bus-device.js';

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_WIDTH = 4;

export class DebugExit implements BusDevice {
  constructor(private readonly onExit: (value: number) => void) {}

  read(_offset: number, data: Uint8Array): void {
    data.fill(0);
  }

  write(_offset: number, data: Uint8Array): void {
    this.onExit(Number(littleEndianValue(data.subarray(0, 4))));
  }
}

/** The process exit status for a debug-exit value, as QEMU computes it (the OS keeps the low 8 bits). */
export function debugExitStatus(value: number): number {
  return ((value << 1) | 1) & 0xff;
}
