/** QEMU's fw_cfg over I/O ports, item by item. */
import { describe, expect, it } from 'vitest';
import { FW_CFG_FILE_DIR, FW_CFG_FILE_FIRST, FW_CFG_ID, FW_CFG_MAX_CPUS, FW_CFG_NB_CPUS, FW_CFG_RAM_SIZE, FW_CFG_SIGNATURE, FwCfg } from '../../src/devices/fw-cfg.js';

const device = () =>
  new FwCfg({
    bootCpus: 1,
    cpuCount: 2,
    ramSize: 0x1000_0000,
    memoryMap: [
      { address: 0, length: 0x1000_0000, type: 1 },
      { address: 0x1000_0000, length: 0x10_0000, type: 2 },
    ],
  });

/** Selects `key` with a 16-bit write to 0x510 and reads `length` bytes from 0x511. */
function readItem(fwCfg: FwCfg, key: number, length: number): Uint8Array {
  fwCfg.write(0, new Uint8Array([key & 0xff, key >> 8]));
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const data = new Uint8Array(1);
    fwCfg.read(1, data);
    bytes[i] = data[0] as number;
  }
  return bytes;
}

const le = (bytes: Uint8Array) => bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n);

describe('FwCfg', () => {
  it('answers the signature "QEMU" and the traditional-interface feature', () => {
    const fwCfg = device();
    expect(new TextDecoder().decode(readItem(fwCfg, FW_CFG_SIGNATURE, 4))).toBe('QEMU');
    expect(le(readItem(fwCfg, FW_CFG_ID, 4))).toBe(1n);
  });

  it('gives the RAM size and the CPU counts little-endian: the boot CPUs, then every CPU (as QEMU with -smp 1,maxcpus=2)', () => {
    const fwCfg = device();
    expect(le(readItem(fwCfg, FW_CFG_RAM_SIZE, 8))).toBe(0x1000_0000n);
    expect(le(readItem(fwCfg, FW_CFG_NB_CPUS, 2))).toBe(1n);
    expect(le(readItem(fwCfg, FW_CFG_MAX_CPUS, 2))).toBe(2n);
  });

  it('lists etc/e820 in the big-endian file directory and serves it', () => {
    const fwCfg = device();
    const directory = new DataView(readItem(fwCfg, FW_CFG_FILE_DIR, 4 + 64).buffer);
    expect(directory.getUint32(0)).toBe(1);
    expect(directory.getUint32(4)).toBe(40);
    expect(directory.getUint16(8)).toBe(FW_CFG_FILE_FIRST);
    expect(new TextDecoder().decode(new Uint8Array(directory.buffer, 12, 8))).toBe('etc/e820');
    const e820 = new DataView(readItem(fwCfg, FW_CFG_FILE_FIRST, 40).buffer);
    expect([e820.getBigUint64(20, true), e820.getBigUint64(28, true), e820.getUint32(36, true)]).toEqual([0x1000_0000n, 0x10_0000n, 2]);
  });

  it('reads zeros past an item, for an unknown key, and from the selector port; ignores data-port writes', () => {
    const fwCfg = device();
    expect(Array.from(readItem(fwCfg, FW_CFG_MAX_CPUS, 4))).toEqual([2, 0, 0, 0]);
    expect(Array.from(readItem(fwCfg, 0x7777, 2))).toEqual([0, 0]);
    const data = new Uint8Array(2).fill(9);
    fwCfg.read(0, data);
    expect(Array.from(data)).toEqual([0, 0]);
    fwCfg.write(1, new Uint8Array([FW_CFG_SIGNATURE]));
    expect(Array.from(readItem(fwCfg, FW_CFG_MAX_CPUS, 1))).toEqual([2]);
  });

  it('restarts an item when it is selected again', () => {
    const fwCfg = device();
    readItem(fwCfg, FW_CFG_SIGNATURE, 2);
    expect(new TextDecoder().decode(readItem(fwCfg, FW_CFG_SIGNATURE, 4))).toBe('QEMU');
  });
});
