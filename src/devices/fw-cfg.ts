/**
 * QEMU's firmware configuration device (fw_cfg), the I/O-port interface of QEMU's
 * docs/specs/fw_cfg.rst: a guest writes a 16-bit item selector to port 0x510, then reads the
 * item's bytes one at a time from port 0x511. Small test kernels written for QEMU ask it how
 * many CPUs and how much RAM they have. Items here: the signature "QEMU", the feature ID
 * (the traditional interface only, no DMA), the RAM size, the CPU counts, and the file
 * directory with "etc/e820", the memory map, and the files the config adds (QEMU's -fw_cfg),
 * sorted by name as QEMU sorts its directory.
 */
import type { BusDevice } from './bus-device.js';
import { SharedState } from './shared-state.js';

/** The shared words: which item is selected, and how far into it the guest has read. */
const SELECTED = 0;
const POSITION = 1;
export const FW_CFG_STATE_WORDS = 2;

export const FW_CFG_PORT = 0x510;
/** The selector (0x510, two bytes) and the data port (0x511) overlap as QEMU lays them out. */
export const FW_CFG_PORT_COUNT = 2;

export const FW_CFG_SIGNATURE = 0x00;
export const FW_CFG_ID = 0x01;
export const FW_CFG_RAM_SIZE = 0x03;
export const FW_CFG_NB_CPUS = 0x05;
export const FW_CFG_MAX_CPUS = 0x0f;
export const FW_CFG_FILE_DIR = 0x19;
/** Files are numbered from here. */
export const FW_CFG_FILE_FIRST = 0x20;

const FW_CFG_VERSION_TRADITIONAL = 1;
const FILE_NAME_SIZE = 56;
const E820_ENTRY_SIZE = 20;

export interface E820Entry {
  readonly address: number;
  readonly length: number;
  /** 1 RAM, 2 reserved. */
  readonly type: number;
}

export interface FwCfgContents {
  /** The vCPUs the guest may start at boot (QEMU's -smp cpus): FW_CFG_NB_CPUS. */
  readonly bootCpus: number;
  /** Every vCPU, those not plugged in yet too (QEMU's maxcpus): FW_CFG_MAX_CPUS. */
  readonly cpuCount: number;
  readonly ramSize: number;
  readonly memoryMap: readonly E820Entry[];
  /** Files the config adds, by name. */
  readonly files?: readonly (readonly [string, Uint8Array])[];
}

export class FwCfg implements BusDevice {
  /** The items are the same on every thread; only the selection is shared state. */
  private readonly items = new Map<number, Uint8Array>();
  private readonly empty = new Uint8Array(0);

  constructor(
    contents: FwCfgContents,
    private readonly state: SharedState = new SharedState(FW_CFG_STATE_WORDS),
  ) {
    const le = (size: number, fill: (view: DataView) => void) => {
      const bytes = new Uint8Array(size);
      fill(new DataView(bytes.buffer));
      return bytes;
    };
    this.items.set(FW_CFG_SIGNATURE, new TextEncoder().encode('QEMU'));
    this.items.set(FW_CFG_ID, le(4, (view) => view.setUint32(0, FW_CFG_VERSION_TRADITIONAL, true)));
    this.items.set(FW_CFG_RAM_SIZE, le(8, (view) => view.setBigUint64(0, BigInt(contents.ramSize), true)));
    this.items.set(FW_CFG_NB_CPUS, le(2, (view) => view.setUint16(0, contents.bootCpus, true)));
    this.items.set(FW_CFG_MAX_CPUS, le(2, (view) => view.setUint16(0, contents.cpuCount, true)));
    const e820 = le(contents.memoryMap.length * E820_ENTRY_SIZE, (view) =>
      contents.memoryMap.forEach((entry, i) => {
        view.setBigUint64(i * E820_ENTRY_SIZE, BigInt(entry.address), true);
        view.setBigUint64(i * E820_ENTRY_SIZE + 8, BigInt(entry.length), true);
        view.setUint32(i * E820_ENTRY_SIZE + 16, entry.type, true);
      }),
    );
    const files: (readonly [string, Uint8Array])[] = [['etc/e820', e820], ...(contents.files ?? [])];
    this.addFiles(files.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  }

  /** A machine reset: no item selected (item 0, the signature), read from its start, as QEMU's fw_cfg resets. */
  reset(): void {
    this.state.locked(() => this.state.zero());
  }

  read(offset: number, data: Uint8Array): void {
    this.state.locked(() => {
      const selected = this.items.get(this.state.get(SELECTED)) ?? this.empty;
      for (let i = 0; i < data.length; i++) {
        // The selector port reads as zero; the data port yields the selected item byte by byte, then zeros.
        const position = this.state.get(POSITION);
        if (offset + i === 1 && position < selected.length) {
          data[i] = selected[position] as number;
          this.state.set(POSITION, position + 1);
        } else {
          data[i] = 0;
        }
      }
    });
  }

  write(offset: number, data: Uint8Array): void {
    if (offset !== 0) return; // the data port is read-only
    this.state.locked(() => {
      this.state.set(SELECTED, (data[0] as number) | ((data[1] ?? 0) << 8));
      this.state.set(POSITION, 0);
    });
  }

  /** The file directory (big-endian, as the spec defines it) and each file as an item. */
  private addFiles(files: readonly (readonly [string, Uint8Array])[]): void {
    const directory = new Uint8Array(4 + files.length * (8 + FILE_NAME_SIZE));
    const view = new DataView(directory.buffer);
    view.setUint32(0, files.length);
    files.forEach(([name, contents], i) => {
      const at = 4 + i * (8 + FILE_NAME_SIZE);
      view.setUint32(at, contents.length);
      view.setUint16(at + 4, FW_CFG_FILE_FIRST + i);
      directory.set(new TextEncoder().encode(name).subarray(0, FILE_NAME_SIZE - 1), at + 8);
      this.items.set(FW_CFG_FILE_FIRST + i, contents);
    });
    this.items.set(FW_CFG_FILE_DIR, directory);
  }
}
