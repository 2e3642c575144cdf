/**
 * The kvm_run page of a vCPU (mmap of the vCPU fd): how KVM tells tsvisor why the guest
 * exited and where the data of an I/O or MMIO exit lives.
 *
 * The hot-path fields are read through a DataView at offsets computed once from the
 * layout in structs.ts; nothing here allocates on the exit path.
 */
import { KVM_INTERNAL_ERROR_EMULATION, KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES } from './constants.js';
import { decode, offsetOf } from './layout.js';
import { kvm_debug_exit_arch, kvm_run } from './structs.js';

const at = (path: string) => offsetOf(kvm_run, path);

const REQUEST_INTERRUPT_WINDOW = at('request_interrupt_window');
const IMMEDIATE_EXIT = at('immediate_exit');
const EXIT_REASON = at('exit_reason');
const READY_FOR_INTERRUPT_INJECTION = at('ready_for_interrupt_injection');
const IF_FLAG = at('if_flag');
const CR8 = at('cr8');
const APIC_BASE = at('apic_base');
const IO_DIRECTION = at('io.direction');
const IO_SIZE = at('io.size');
const IO_PORT = at('io.port');
const IO_COUNT = at('io.count');
const IO_DATA_OFFSET = at('io.data_offset');
const MMIO_PHYS_ADDR = at('mmio.phys_addr');
const MMIO_DATA = at('mmio.data');
const MMIO_LEN = at('mmio.len');
const MMIO_IS_WRITE = at('mmio.is_write');
const FAIL_ENTRY_REASON = at('fail_entry.hardware_entry_failure_reason');
const FAIL_ENTRY_CPU = at('fail_entry.cpu');
const INTERNAL_SUBERROR = at('internal.suberror');
const INTERNAL_NDATA = at('internal.ndata');
const INTERNAL_DATA = at('internal.data');
const EMULATION_FLAGS = at('emulation_failure.flags');
const EMULATION_INSN_SIZE = at('emulation_failure.insn_size');
const EMULATION_INSN_BYTES = at('emulation_failure.insn_bytes');
const SYSTEM_EVENT_TYPE = at('system_event.type');
const SYSTEM_EVENT_NDATA = at('system_event.ndata');
const SYSTEM_EVENT_DATA = at('system_event.data');
const DEBUG_ARCH = at('debug.arch');
const MSR_ERROR = at('msr.error');
const MSR_REASON = at('msr.reason');
const MSR_INDEX = at('msr.index');
const MSR_DATA = at('msr.data');

const TWO_POW_32 = 2 ** 32;

/** Where kvm_run.immediate_exit sits in the page, for the native kick handler to set it. */
export const KVM_RUN_IMMEDIATE_EXIT_OFFSET = IMMEDIATE_EXIT;

export class KvmRun {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  /** mmio.data as 1-, 2-, 4- and 8-byte views, made once (index: the access length). */
  private readonly mmioDataViews: Uint8Array[] = [];

  constructor(buffer: ArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.view = new DataView(buffer);
    for (const length of [1, 2, 4, 8]) this.mmioDataViews[length] = this.bytes.subarray(MMIO_DATA, MMIO_DATA + length);
  }

  get exitReason(): number {
    return this.view.getUint32(EXIT_REASON, true);
  }

  set immediateExit(value: boolean) {
    this.view.setUint8(IMMEDIATE_EXIT, value ? 1 : 0);
  }
  get immediateExit(): boolean {
    return this.view.getUint8(IMMEDIATE_EXIT) !== 0;
  }

  set requestInterruptWindow(value: boolean) {
    this.view.setUint8(REQUEST_INTERRUPT_WINDOW, value ? 1 : 0);
  }
  get readyForInterruptInjection(): boolean {
    return this.view.getUint8(READY_FOR_INTERRUPT_INJECTION) !== 0;
  }
  get ifFlag(): boolean {
    return this.view.getUint8(IF_FLAG) !== 0;
  }
  /**
   * CR8, the task priority (TPR[7:4]), as KVM saw it at the exit. Without an in-kernel
   * LAPIC, KVM loads the guest's CR8 from here on every KVM_RUN: this is where userspace
   * sets it. Only bits 3:0 are architectural, so the low byte is the whole value.
   */
  get cr8(): number {
    return this.view.getUint8(CR8);
  }
  set cr8(value: number) {
    this.view.setBigUint64(CR8, BigInt(value & 0xf), true);
  }
  get apicBase(): bigint {
    return this.view.getBigUint64(APIC_BASE, true);
  }

  // KVM_EXIT_IO
  get ioDirection(): number {
    return this.view.getUint8(IO_DIRECTION);
  }
  get ioSize(): number {
    return this.view.getUint8(IO_SIZE);
  }
  get ioPort(): number {
    return this.view.getUint16(IO_PORT, true);
  }
  get ioCount(): number {
    return this.view.getUint32(IO_COUNT, true);
  }
  /** Offset of the I/O data from the start of kvm_run (a page offset: the high half is 0). */
  get ioDataOffset(): number {
    return this.view.getUint32(IO_DATA_OFFSET, true) + this.view.getUint32(IO_DATA_OFFSET + 4, true) * TWO_POW_32;
  }

  // KVM_EXIT_MMIO
  get mmioPhysAddr(): number {
    return this.view.getUint32(MMIO_PHYS_ADDR, true) + this.view.getUint32(MMIO_PHYS_ADDR + 4, true) * TWO_POW_32;
  }
  get mmioLen(): number {
    return this.view.getUint32(MMIO_LEN, true);
  }
  get mmioIsWrite(): boolean {
    return this.view.getUint8(MMIO_IS_WRITE) !== 0;
  }
  /** mmio.data, `length` bytes long (1, 2, 4 or 8); a view into kvm_run, not a copy. */
  mmioData(length: number): Uint8Array {
    return this.mmioDataViews[length] ?? this.bytes.subarray(MMIO_DATA, MMIO_DATA + Math.min(length, 8));
  }

  // KVM_EXIT_FAIL_ENTRY
  failEntry(): { hardwareEntryFailureReason: bigint; cpu: number } {
    return {
      hardwareEntryFailureReason: this.view.getBigUint64(FAIL_ENTRY_REASON, true),
      cpu: this.view.getUint32(FAIL_ENTRY_CPU, true),
    };
  }

  // KVM_EXIT_INTERNAL_ERROR
  internalError(): { suberror: number; data: bigint[]; instructionBytes: Uint8Array | undefined } {
    const suberror = this.view.getUint32(INTERNAL_SUBERROR, true);
    const ndata = Math.min(this.view.getUint32(INTERNAL_NDATA, true), 16);
    const data = Array.from({ length: ndata }, (_, i) => this.view.getBigUint64(INTERNAL_DATA + 8 * i, true));
    // An emulation failure may carry the instruction bytes it could not emulate.
    let instructionBytes: Uint8Array | undefined;
    const flags = ndata >= 1 ? this.view.getBigUint64(EMULATION_FLAGS, true) : 0n;
    if (suberror === KVM_INTERNAL_ERROR_EMULATION && (flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) !== 0n) {
      const size = Math.min(this.view.getUint8(EMULATION_INSN_SIZE), 15);
      instructionBytes = this.bytes.slice(EMULATION_INSN_BYTES, EMULATION_INSN_BYTES + size);
    }
    return { suberror, data, instructionBytes };
  }

  // KVM_EXIT_SYSTEM_EVENT
  systemEvent(): { type: number; data: bigint[] } {
    const ndata = Math.min(this.view.getUint32(SYSTEM_EVENT_NDATA, true), 16);
    return {
      type: this.view.getUint32(SYSTEM_EVENT_TYPE, true),
      data: Array.from({ length: ndata }, (_, i) => this.view.getBigUint64(SYSTEM_EVENT_DATA + 8 * i, true)),
    };
  }

  // KVM_EXIT_DEBUG
  debugExit() {
    return decode(kvm_debug_exit_arch, this.view, DEBUG_ARCH);
  }

  // KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR
  get msrIndex(): number {
    return this.view.getUint32(MSR_INDEX, true);
  }
  get msrReason(): number {
    return this.view.getUint32(MSR_REASON, true);
  }
  get msrData(): bigint {
    return this.view.getBigUint64(MSR_DATA, true);
  }
  set msrData(value: bigint) {
    this.view.setBigUint64(MSR_DATA, value, true);
  }
  set msrError(value: boolean) {
    this.view.setUint8(MSR_ERROR, value ? 1 : 0);
  }
}
