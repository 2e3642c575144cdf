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
  /** The range's slot in the bus's counters: its registration order, from 1 (slot 0 counts unassigned accesses). */
  readonly slot: number;
}

/**
 * Where a bus counts its accesses: reads, writes and (when timed) nanoseconds spent in the
 * device, one slot per range in registration order after slot 0, the unassigned accesses.
 * The arrays may live in a SharedArrayBuffer, for another thread to read.
 */
export interface BusCounters {
  readonly reads: Float64Array;
  readonly writes: Float64Array;
  readonly nanos: Float64Array;
  readonly timed: boolean;
}

export const UNASSIGNED_SLOT = 0;
/** Counter slots of a bus made without counters of its own (a test's). */
const DEFAULT_SLOTS = 256;

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
  private registered = 0;
  /** Called for every unassigned access when set (tsvisor run --trace-unassigned). */
  onUnassigned: ((access: UnassignedAccess) => void) | undefined;

  constructor(
    readonly kind: BusKind,
    private readonly counters: BusCounters = {
      reads: new Float64Array(DEFAULT_SLOTS),
      writes: new Float64Array(DEFAULT_SLOTS),
      nanos: new Float64Array(DEFAULT_SLOTS),
      timed: false,
    },
  ) {}

  /** Accesses that hit no device. */
  get unassigned(): { reads: number; writes: number } {
    return { reads: this.counters.reads[UNASSIGNED_SLOT] as number, writes: this.counters.writes[UNASSIGNED_SLOT] as number };
  }

  /** Gives `device` the addresses [base, base + length); throws a BusConflictError naming both devices on overlap. */
  register(name: string, base: number, length: number, device: BusDevice): void {
    if (!Number.isSafeInteger(base) || base < 0 || !Number.isSafeInteger(length) || length <= 0) {
      throw new BusConflictError(`Cannot place ${name} on the ${this.kind} bus at ${hex(base)} with length ${length}: the range must be non-empty.`);
    }
    if (this.registered + 1 >= this.counters.reads.length) throw new RangeError(`the ${this.kind} bus has counters for ${this.counters.reads.length - 1} devices`);
    const range: BusRange = { name, base, length, device, slot: this.registered + 1 };
    const clash = this.ranges.find((other) => base < other.base + other.length && other.base < base + length);
    if (clash) {
      throw new BusConflictError(
        `Cannot place ${name} at ${this.describe(range)}: it overlaps ${clash.name} at ${this.describe(clash)}. Move one of them to free addresses.`,
      );
    }
    const index = this.ranges.findIndex((other) => other.base > base);
    this.ranges.splice(index < 0 ? this.ranges.length : index, 0, range);
    this.registered++;
  }

  /**
   * Moves `device`'s range to start at `base` (a Local APIC that IA32_APIC_BASE relocates).
   * False, leaving it where it was, when the new range would overlap another.
   */
  move(device: BusDevice, base: number): boolean {
    const index = this.ranges.findIndex((range) => range.device === device);
    const range = this.ranges[index];
    if (!range) throw new RangeError(`the device to move is not on the ${this.kind} bus`);
    const end = base + range.length;
    if (this.ranges.some((other) => other !== range && base < other.base + other.length && other.base < end)) return false;
    this.ranges.splice(index, 1);
    const moved: BusRange = { ...range, base };
    const at = this.ranges.findIndex((other) => other.base > base);
    this.ranges.splice(at < 0 ? this.ranges.length : at, 0, moved);
    this.lastHit = undefined;
    return true;
  }

  /** The registered ranges, in address order. */
  list(): readonly BusRange[] {
    return this.ranges;
  }

  read(address: number, data: Uint8Array): void {
    const range = this.find(address);
    const counters = this.counters;
    if (range) {
      count(counters.reads, range.slot, 1);
      if (counters.timed) {
        const start = performance.now();
        range.device.read(address - range.base, data);
        count(counters.nanos, range.slot, (performance.now() - start) * 1e6);
      } else {
        range.device.read(address - range.base, data);
      }
      return;
    }
    data.fill(0xff);
    count(counters.reads, UNASSIGNED_SLOT, 1);
    this.onUnassigned?.({ bus: this.kind, address, direction: 'read', data });
  }

  write(address: number, data: Uint8Array): void {
    const range = this.find(address);
    const counters = this.counters;
    if (range) {
      count(counters.writes, range.slot, 1);
      if (counters.timed) {
        const start = performance.now();
        range.device.write(address - range.base, data);
        count(counters.nanos, range.slot, (performance.now() - start) * 1e6);
      } else {
        range.device.write(address - range.base, data);
      }
      return;
    }
    count(counters.writes, UNASSIGNED_SLOT, 1);
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

function count(counters: Float64Array, slot: number, amount: number): void {
  counters[slot] = (counters[slot] as number) + amount;
}
