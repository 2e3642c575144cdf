import { describe, expect, it } from 'vitest';
import { AcpiPm1Control, PM1_SCI_EN } from '../../src/devices/acpi-pm1-control.js';

function device() {
  const events: string[] = [];
  return { events, pm1: new AcpiPm1Control(() => events.push('power-off')) };
}

describe('AcpiPm1Control', () => {
  it('powers off on a 16-bit write of 0x2000 (SLP_EN with SLP_TYP 0, the write ArceOS makes)', () => {
    const { events, pm1 } = device();
    pm1.write(0, new Uint8Array([0x00, 0x20]));
    expect(events).toEqual(['power-off']);
  });

  it('powers off on a byte write of the high half alone', () => {
    const { events, pm1 } = device();
    pm1.write(1, new Uint8Array([0x20]));
    expect(events).toEqual(['power-off']);
  });

  it('stores other bits, reads SLP_EN as 0, and ignores other sleep types', () => {
    const { events, pm1 } = device();
    pm1.write(0, new Uint8Array([PM1_SCI_EN, 0x00]));
    pm1.write(0, new Uint8Array([PM1_SCI_EN, 0x24])); // SLP_EN with SLP_TYP 1 (S3 in QEMU)
    const data = new Uint8Array(2);
    pm1.read(0, data);
    expect(Array.from(data)).toEqual([PM1_SCI_EN, 0x04]);
    expect(events).toEqual([]);
  });

  it('ignores bytes beyond its two and reads them as all ones', () => {
    const { events, pm1 } = device();
    pm1.write(2, new Uint8Array([0x20, 0x20]));
    const data = new Uint8Array(4);
    pm1.read(0, data);
    expect(Array.from(data)).toEqual([0, 0, 0xff, 0xff]);
    expect(events).toEqual([]);
  });
});
