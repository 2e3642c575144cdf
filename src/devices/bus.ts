/**
 * An address bus (I/O ports, or MMIO): devices own address ranges, accesses are routed to
 * the device whose range holds the access's first byte, and overlapping ranges are
 * refused. An access that hits no device behaves as on an unassigned PC bus: reads
 * return all ones, writes vanish. Such accesses are counted and can be reported.
 */
import { TsvisorError, hex } from '../errors.js';
import type { BusDevice } from './bus-device.js';

export type BusKind = 'I/O port' | 'MMIO';

export interface BusRange {
  readonly name: string;
  readonly base: number;
  readonly length: number;
  readonly device: BusDevice;
}

export interface UnassignedAccess {
  readonly bus: BusKind;
  readonly address: number;
  readonly direction: 'read' | 'write';
  /** The bytes written, or the all-ones bytes returned. */
  readonly data: Uint8Array;
}

export class BusConflictError extends TsvisorError {
  override name = 'BusConflictError';
}

export class Bus {
  /** Ranges sorted by base address, never overlapping. */
  private readonly ranges: BusRange[] = [];
  private lastHit: BusRange | undefined;
  readonly unassigned = { reads: 0, writes: 0 };
  /** Called for every unassigned access when set (tsvisor run --trace-unassigned). */
  onUnassigned: ((access: UnassignedAccess) => void) | undefined;

  constructor(readonly kind: BusKind) {}

  /** Gives `device` the addresses [base, base + length); throws a BusConflictError naming both devices on overlap. */
  register(name: string, base: number, length: number, device: BusDevice): void {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(length) || length <= 0) {
      throw new BusConflictError(`Cannot place ${name} on the ${this.kind} bus at ${hex(base)} with length ${length}: the range must be non-empty.`);
    }
    const range: BusRange = { name, base, length, device };
    const clash = this.ranges.find((other) => base < other.base + other.length && other.base < base + length);
    if (clash) {
      throw new BusConflictError(
        `Cannot place ${name} at ${this.describe(range)}: it overlaps ${clash.name} at ${this.describe(clash)}. Move one of them to free addresses.`,
      );
    }
    const index = this.ranges.findIndex((other) => other.base > base);
    this.ranges.splice(index < 0 ? this.ranges.length : index, 0, range);
  }

  /** The registered ranges, in address order. */
  list(): readonly BusRange[] {
    return this.ranges;
  }

  read(address: number, data: Uint8Array): void {
    const range = this.find(address);
    if (range) {
      range.device.read(address - range.base, data);
      return;
    }
    data.fill(0xff);
    this.unassigned.reads++;
    this.onUnassigned?.({ bus: this.kind, address, direction: 'read', data });
  }

  write(address: number, data: Uint8Array): void {
    const range = this.find(address);
    if (range) {
      range.device.write(address - range.base, data);
      return;
    }
    this.unassigned.writes++;
    this.onUnassigned?.({ bus: this.kind, address, direction: 'write', data });
  }

  /** "I/O ports 0x3f8-0x3ff" or "MMIO 0xfee00000-0xfee00fff". */
  describe(range: Pick<BusRange, 'base' | 'length'>): string {
    const span = `${hex(range.base)}-${hex(range.base + range.length - 1)}`;
    return this.kind === 'I/O port' ? `I/O ports ${span}` : `MMIO ${span}`;
  }

  private find(address: number): BusRange | undefined {
    const last = this.lastHit;
    if (last && address >= last.base && address < last.base + last.length) return last;
    // Binary search for the last range starting at or below the address.
    let low = 0;
    let high = this.ranges.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const range = this.ranges[middle] as BusRange;
      if (range.base <= address) {
        if (address < range.base + range.length) return (this.lastHit = range);
        low = middle + 1;
      } else {
        high = middle - 1;
      }
    }
    return undefined;
  }
}
