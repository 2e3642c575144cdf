/**
 * A guest-physical range that is not ordinary RAM, where the guest's accesses exit to the
 * VMM: a read-only RAM region (KVM_MEM_READONLY: writes exit), or a reserved region
 * (MAP_RESERVED: no memory at all, every access exits). Writes are dropped; reads return
 * the memory (read-only RAM) or all ones (reserved). The bus counts every access, and the
 * first one to each 4 KiB page (on each vCPU) is reported, so a guest hammering a page
 * cannot flood the log yet nothing passes silently.
 */
import { hex } from '../errors.js';
import type { BusDevice } from './bus-device.js';

const PAGE_MASK = 0xfff;

export interface GuardedRegionOptions {
  /** How messages name the region: "kernel.memory_regions[1]". */
  readonly name: string;
  /** The region's first guest physical address. */
  readonly base: number;
  /** Reads the backing memory (read-only RAM); absent for a reserved region. */
  readonly readMemory?: (offset: number, data: Uint8Array) => void;
  readonly report: (message: string) => void;
}

export class GuardedRegion implements BusDevice {
  private readonly reportedPages = new Set<number>();

  constructor(private readonly options: GuardedRegionOptions) {}

  read(offset: number, data: Uint8Array): void {
    if (this.options.readMemory) {
      this.options.readMemory(offset, data);
      return;
    }
    data.fill(0xff);
    this.reportOnce(offset, `read ${bytes(data.length)} from reserved memory`, 'reads there return all ones');
  }

  write(offset: number, data: Uint8Array): void {
    const what = this.options.readMemory ? 'read-only memory' : 'reserved memory';
    this.reportOnce(offset, `wrote ${bytes(data.length)} to ${what}`, 'writes there are dropped');
  }

  private reportOnce(offset: number, what: string, consequence: string): void {
    const address = this.options.base + offset;
    const page = address - (address & PAGE_MASK);
    if (this.reportedPages.has(page)) return;
    this.reportedPages.add(page);
    this.options.report(
      `the guest ${what} at ${hex(address)} (${this.options.name}): ${consequence}; later accesses to the page at ${hex(page)} are only counted.`,
    );
  }
}

const bytes = (n: number) => `${n} byte${n === 1 ? '' : 's'}`;
