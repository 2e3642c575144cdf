import { describe, expect, it } from 'vitest';
import { DebugExit, debugExitStatus } from '../../src/devices/debug-exit.js';

describe('DebugExit (QEMU isa-debug-exit)', () => {
  it('reports the value of a write of any width', () => {
    const values: number[] = [];
    const device = new DebugExit((value) => values.push(value));
    device.write(0, new Uint8Array([21, 0, 0, 0]));
    device.write(0, new Uint8Array([0x34, 0x12]));
    device.write(0, new Uint8Array([0xff, 0xff, 0xff, 0xff]));
    expect(values).toEqual([21, 0x1234, 0xffffffff]);
  });

  it('maps a value to the exit status (value << 1) | 1, kept to 8 bits as the OS does', () => {
    expect(debugExitStatus(0)).toBe(1);
    expect(debugExitStatus(21)).toBe(43);
    expect(debugExitStatus(0x80)).toBe(1);
    expect(debugExitStatus(0xffffffff)).toBe(255);
  });

  it('reads as zero', () => {
    const data = new Uint8Array(4).fill(9);
    new DebugExit(() => {}).read(0, data);
    expect(Array.from(data)).toEqual([0, 0, 0, 0]);
  });
});
