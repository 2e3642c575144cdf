/**
 * Guest physical memory: host mappings registered with KVM as memory slots, and
 * bounds-checked access to them by guest physical address (GPA). The memory is the VMM's
 * to write at any address, read-only regions included: read-only binds the guest only.
 *
 * Every access is checked against the regions before it touches host memory: an address
 * outside every region throws a GuestMemoryError and reads or writes nothing. GPAs are
 * JavaScript numbers (x86 physical addresses have at most 52 bits, below 2^53).
 */
import { ExitStatus, TsvisorError, hex } from '../errors.js';
import * as libc from '../host/libc.js';
import { KVM_MEM_READONLY } from '../kvm/constants.js';
import type * as kvm from '../kvm/index.js';
import { mapHostMemory, unmapHostMemory, type Backing, type HostMapping } from './host-mapping.js';

export class GuestMemoryError extends TsvisorError {
  override name = 'GuestMemoryError';
}

/** A region as mapped in this process: what another thread needs to attach to it. */
export interface HostRegion {
  readonly gpa: number;
  readonly size: number;
  readonly readOnly: boolean;
  readonly hostAddress: bigint;
}

export interface RamRegion {
  /** First guest physical address. */
  readonly gpa: number;
  readonly size: number;
  /** Anonymous (demand-paged) or pinned (locked memfd); anonymous when omitted. */
  readonly backing?: Backing;
  /** Guest writes exit to the VMM instead of changing the memory (KVM_MEM_READONLY). */
  readonly readOnly?: boolean;
}

/** A piece of a region small enough for one ArrayBuffer view (koffi views stop at 4 GiB). */
interface Chunk {
  readonly gpa: number;
  readonly end: number;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

interface Mapping extends RamRegion {
  readonly host: HostMapping;
}

const CHUNK_SIZE = 2 ** 30;
const PAGE_SIZE = 4096;

export class GuestMemory {
  private readonly chunks: Chunk[] = [];
  /** The chunk of the previous access: most accesses land in the same one. */
  private lastChunk: Chunk | undefined;
  private released = false;

  private constructor(
    private readonly mappings: Mapping[],
    /** False for a view another thread owns: release() then drops the views but unmaps nothing. */
    private readonly owned: boolean,
  ) {
    for (const mapping of mappings) {
      for (let offset = 0; offset < mapping.size; offset += CHUNK_SIZE) {
        const length = Math.min(CHUNK_SIZE, mapping.size - offset);
        const buffer = libc.view(mapping.host.address + BigInt(offset), length);
        this.chunks.push({
          gpa: mapping.gpa + offset,
          end: mapping.gpa + offset + length,
          bytes: new Uint8Array(buffer),
          view: new DataView(buffer),
        });
      }
    }
    this.chunks.sort((a, b) => a.gpa - b.gpa);
  }

  /**
   * Maps host memory for each region (see host-mapping.ts for the two backings). Regions
   * must be page-aligned and must not overlap; the config layer has checked both.
   */
  static allocate(regions: readonly RamRegion[]): GuestMemory {
    const mappings: Mapping[] = [];
    try {
      for (const region of regions) {
        if (region.gpa % PAGE_SIZE !== 0 || region.size % PAGE_SIZE !== 0 || region.size === 0) {
          throw new GuestMemoryError(
            `RAM region ${hex(region.gpa)} (${region.size} bytes) must be a non-empty whole number of 4 KiB pages starting on a page boundary.`,
          );
        }
        mappings.push({ ...region, host: mapHostMemory(region.backing ?? 'anonymous', region.size, region.gpa) });
      }
    } catch (error) {
      for (const mapping of mappings) unmapHostMemory(mapping.host);
      throw error;
    }
    return new GuestMemory(mappings, true);
  }

  /** Where each region lives in this process, for another thread to attach to. */
  get hostMappings(): HostRegion[] {
    return this.mappings.map(({ gpa, size, readOnly, host }) => ({ gpa, size, readOnly: readOnly ?? false, hostAddress: host.address }));
  }

  /**
   * A view of guest memory another thread allocated (a vCPU worker's): the same host
   * memory, through this thread's own ArrayBuffers. It never unmaps anything.
   */
  static attach(regions: readonly HostRegion[]): GuestMemory {
    return new GuestMemory(
      regions.map(({ gpa, size, readOnly, hostAddress }) => ({ gpa, size, readOnly, host: { address: hostAddress, size, fd: -1 } })),
      false,
    );
  }

  /** The RAM regions, in guest address order. */
  get regions(): RamRegion[] {
    return this.mappings.map(({ host: _host, ...region }) => region).sort((a, b) => a.gpa - b.gpa);
  }

  /** Registers every region with KVM as a memory slot (KVM_SET_USER_MEMORY_REGION), read-only ones with KVM_MEM_READONLY. */
  registerWith(vm: kvm.Vm): void {
    this.mappings.forEach((mapping, slot) =>
      vm.setUserMemoryRegion({
        slot,
        flags: mapping.readOnly ? KVM_MEM_READONLY : 0,
        guest_phys_addr: BigInt(mapping.gpa),
        memory_size: BigInt(mapping.size),
        userspace_addr: mapping.host.address,
      }),
    );
  }

  /** True when [gpa, gpa + length) lies wholly in guest RAM (possibly across adjacent regions). */
  contains(gpa: number, length: number): boolean {
    if (!Number.isSafeInteger(gpa) || gpa < 0 || !Number.isSafeInteger(length) || length <= 0) return false;
    for (let address = gpa; address < gpa + length; ) {
      const chunk = this.findChunk(address);
      if (!chunk) return false;
      address = chunk.end;
    }
    return true;
  }

  read8(gpa: number): number {
    const chunk = this.chunkFor(gpa, 1);
    return chunk ? (chunk.bytes[gpa - chunk.gpa] as number) : this.readAcross(gpa, 1).getUint8(0);
  }
  read16(gpa: number): number {
    const chunk = this.chunkFor(gpa, 2);
    return chunk ? chunk.view.getUint16(gpa - chunk.gpa, true) : this.readAcross(gpa, 2).getUint16(0, true);
  }
  read32(gpa: number): number {
    const chunk = this.chunkFor(gpa, 4);
    return chunk ? chunk.view.getUint32(gpa - chunk.gpa, true) : this.readAcross(gpa, 4).getUint32(0, true);
  }
  read64(gpa: number): bigint {
    const chunk = this.chunkFor(gpa, 8);
    return chunk ? chunk.view.getBigUint64(gpa - chunk.gpa, true) : this.readAcross(gpa, 8).getBigUint64(0, true);
  }
  write8(gpa: number, value: number): void {
    const chunk = this.chunkFor(gpa, 1);
    if (chunk) chunk.bytes[gpa - chunk.gpa] = value;
    else this.writeAcross(gpa, 1, (view) => view.setUint8(0, value));
  }
  write16(gpa: number, value: number): void {
    const chunk = this.chunkFor(gpa, 2);
    if (chunk) chunk.view.setUint16(gpa - chunk.gpa, value, true);
    else this.writeAcross(gpa, 2, (view) => view.setUint16(0, value, true));
  }
  write32(gpa: number, value: number): void {
    const chunk = this.chunkFor(gpa, 4);
    if (chunk) chunk.view.setUint32(gpa - chunk.gpa, value, true);
    else this.writeAcross(gpa, 4, (view) => view.setUint32(0, value, true));
  }
  write64(gpa: number, value: bigint): void {
    const chunk = this.chunkFor(gpa, 8);
    if (chunk) chunk.view.setBigUint64(gpa - chunk.gpa, value, true);
    else this.writeAcross(gpa, 8, (view) => view.setBigUint64(0, value, true));
  }

  /** A copy of `length` bytes at `gpa`. */
  read(gpa: number, length: number): Uint8Array {
    this.check(gpa, length);
    const result = new Uint8Array(length);
    this.forEachPiece(gpa, length, (chunk, offset, done, count) =>
      result.set(chunk.bytes.subarray(offset, offset + count), done),
    );
    return result;
  }

  /** Copies `data` into guest memory at `gpa` (an image, a boot structure). */
  write(gpa: number, data: Uint8Array): void {
    this.check(gpa, data.length);
    this.forEachPiece(gpa, data.length, (chunk, offset, done, count) =>
      chunk.bytes.set(data.subarray(done, done + count), offset),
    );
  }

  /** Unmaps every region (drops the views of an attached one). The VM that used them must be closed first; any later access throws. */
  release(): void {
    if (this.released) return;
    this.released = true;
    this.chunks.length = 0;
    this.lastChunk = undefined;
    if (this.owned) for (const mapping of this.mappings) unmapHostMemory(mapping.host);
  }

  /** Describes the RAM layout for error messages: "0x0-0xffffff". */
  describe(): string {
    if (this.regions.length === 0) return 'no RAM';
    return this.regions.map((region) => `${hex(region.gpa)}-${hex(region.gpa + region.size - 1)}`).join(', ');
  }

  private findChunk(gpa: number): Chunk | undefined {
    const last = this.lastChunk;
    if (last && gpa >= last.gpa && gpa < last.end) return last;
    for (const chunk of this.chunks) {
      if (gpa >= chunk.gpa && gpa < chunk.end) return (this.lastChunk = chunk);
    }
    return undefined;
  }

  /** The chunk holding all of [gpa, gpa + size), or undefined when the access must take the slow path. */
  private chunkFor(gpa: number, size: number): Chunk | undefined {
    const chunk = this.findChunk(gpa);
    return chunk && gpa + size <= chunk.end ? chunk : undefined;
  }

  /** A sized read that crosses a chunk or region boundary, or falls outside RAM (which throws). */
  private readAcross(gpa: number, size: number): DataView {
    const bytes = this.read(gpa, size);
    return new DataView(bytes.buffer);
  }

  private writeAcross(gpa: number, size: number, fill: (view: DataView) => void): void {
    const bytes = new Uint8Array(size);
    fill(new DataView(bytes.buffer));
    this.write(gpa, bytes);
  }

  private check(gpa: number, length: number): void {
    if (length === 0 && Number.isSafeInteger(gpa)) return;
    if (!this.contains(gpa, length)) throw this.outside(gpa, length);
  }

  private forEachPiece(
    gpa: number,
    length: number,
    action: (chunk: Chunk, offset: number, done: number, count: number) => void,
  ): void {
    let done = 0;
    while (done < length) {
      const chunk = this.findChunk(gpa + done) as Chunk;
      const offset = gpa + done - chunk.gpa;
      const count = Math.min(length - done, chunk.end - (gpa + done));
      action(chunk, offset, done, count);
      done += count;
    }
  }

  private outside(gpa: number, length: number): GuestMemoryError {
    const range = length > 1 ? `${hex(gpa)}-${hex(gpa + length - 1)} (${length} bytes)` : hex(gpa);
    const state = this.released ? 'guest memory has been released' : `guest RAM is ${this.describe()}`;
    return new GuestMemoryError(`Guest physical address ${range} is outside guest RAM: ${state}.`, ExitStatus.internal);
  }
}
