/**
 * A vCPU's Local APIC, xAPIC mode (Intel SDM vol. 3A, chapter 10), as a state machine on
 * the MMIO bus of its own vCPU's thread.
 *
 * What other vCPUs must see or change (IRR, TMR, ID, LDR, DFR, the enable bits, PPR) lives in
 * LocalApicStates; the rest (ISR, the LVT, ICR, ESR, the timer) is this object's own. The
 * task priority's bits 7:4 are CR8, which KVM keeps in kvm_run: TaskPriority reaches it.
 *
 * MMIO: only aligned 32-bit accesses at 16-byte strides are architectural (SDM 10.4.1). Other
 * accesses are defined here and counted, never thrown on: a read of 1, 2 or 4 bytes inside a
 * register's first four bytes returns those bytes (the low 32 bits for an 8-byte read); every
 * other read returns 0; every other write is ignored. The first one is reported.
 *
 * The timer counts at 1 GHz (the bus frequency CPUID leaf 0x16 reports) through the divide
 * configuration; its current count is computed from the host's monotonic clock, and its
 * deadline is what the vCPU thread arms its host timer with.
 */
import { DeliveryMode, type ApicMessage } from './apic-message.js';
import type { BusDevice } from './bus-device.js';
import {
  ATTENTION_EVENTS,
  ATTENTION_ILLEGAL_VECTOR,
  ATTENTION_INIT,
  ATTENTION_NMI,
  DFR_MODEL_MASK,
  ENABLE_GLOBAL,
  ENABLE_SOFTWARE,
  type LocalApicStates,
} from './local-apic-state.js';

/** MSRs the LAPIC owns (SDM vol. 4): they are filtered out of KVM and exit to tsvisor. */
export const IA32_APIC_BASE = 0x1b;
export const IA32_TSC_DEADLINE = 0x6e0;

export const LOCAL_APIC_DEFAULT_BASE = 0xfee0_0000;
export const LOCAL_APIC_WINDOW = 0x1000;

// IA32_APIC_BASE bits (SDM 10.4.4, Figure 10-5).
export const APIC_BASE_BSP = 1n << 8n;
export const APIC_BASE_ENABLE = 1n << 11n;
const APIC_BASE_ADDRESS_MASK = 0x000f_ffff_ffff_f000n;
/** Bits 7:0, 9, 10 (no x2APIC on this CPU) and above MAXPHYADDR 52: writing them raises #GP. */
const APIC_BASE_RESERVED = ~(APIC_BASE_BSP | APIC_BASE_ENABLE | APIC_BASE_ADDRESS_MASK) & 0xffff_ffff_ffff_ffffn;

// Register offsets (SDM Table 10-1).
export const APIC_ID = 0x20;
export const APIC_VERSION = 0x30;
export const APIC_TPR = 0x80;
export const APIC_APR = 0x90;
export const APIC_PPR = 0xa0;
export const APIC_EOI = 0xb0;
export const APIC_RRD = 0xc0;
export const APIC_LDR = 0xd0;
export const APIC_DFR = 0xe0;
export const APIC_SVR = 0xf0;
export const APIC_ISR = 0x100;
export const APIC_TMR = 0x180;
export const APIC_IRR = 0x200;
export const APIC_ESR = 0x280;
export const APIC_ICR_LOW = 0x300;
export const APIC_ICR_HIGH = 0x310;
export const APIC_LVT_TIMER = 0x320;
export const APIC_LVT_THERMAL = 0x330;
export const APIC_LVT_PERFORMANCE = 0x340;
export const APIC_LVT_LINT0 = 0x350;
export const APIC_LVT_LINT1 = 0x360;
export const APIC_LVT_ERROR = 0x370;
export const APIC_TIMER_INITIAL_COUNT = 0x380;
export const APIC_TIMER_CURRENT_COUNT = 0x390;
export const APIC_TIMER_DIVIDE = 0x3e0;

/** Version 0x14 (an integrated APIC), six LVT entries (max LVT entry 5), no EOI-broadcast suppression (SDM 10.4.8). */
export const APIC_VERSION_VALUE = 0x0005_0014;

export const SVR_SOFTWARE_ENABLE = 1 << 8;
/** Vector bits and the enable and focus-checking bits (SDM 10.9, Figure 10-23). */
const SVR_WRITABLE = 0x3ff;
export const SVR_RESET = 0xff;

export const LVT_MASKED = 1 << 16;
export const LVT_DELIVERY_STATUS = 1 << 12;
/** Timer mode, LVT timer bits 18:17 (SDM 10.5.4.1): 00b one-shot, 01b periodic, 10b TSC-deadline. */
const LVT_TIMER_MODE_SHIFT = 17;
export const TIMER_MODE_PERIODIC = 1;
export const TIMER_MODE_TSC_DEADLINE = 2;
/** The bits software may write in each LVT entry (SDM Figure 10-8). */
const LVT_WRITABLE: Readonly<Record<number, number>> = {
  [APIC_LVT_TIMER]: 0x0007_00ff, // vector, mask, timer mode
  [APIC_LVT_THERMAL]: 0x0001_07ff, // vector, delivery mode, mask
  [APIC_LVT_PERFORMANCE]: 0x0001_07ff,
  [APIC_LVT_LINT0]: 0x0001_a7ff, // vector, delivery mode, polarity, trigger, mask
  [APIC_LVT_LINT1]: 0x0001_a7ff,
  [APIC_LVT_ERROR]: 0x0001_00ff, // vector, mask
};
const LVT_OFFSETS = [APIC_LVT_TIMER, APIC_LVT_THERMAL, APIC_LVT_PERFORMANCE, APIC_LVT_LINT0, APIC_LVT_LINT1, APIC_LVT_ERROR];

// ICR bits (SDM 10.6.1, Figure 10-12).
const ICR_VECTOR = 0xff;
const ICR_DELIVERY_MODE_SHIFT = 8;
const ICR_LOGICAL = 1 << 11;
const ICR_LEVEL_ASSERT = 1 << 14;
const ICR_LEVEL_TRIGGERED = 1 << 15;
const ICR_SHORTHAND_SHIFT = 18;
/** Vector, delivery mode, destination mode, level, trigger mode and shorthand; delivery status (12) is read-only. */
const ICR_LOW_WRITABLE = 0x000c_cfff;
export const SHORTHAND_NONE = 0;
export const SHORTHAND_SELF = 1;
export const SHORTHAND_ALL_INCLUDING_SELF = 2;
export const SHORTHAND_ALL_EXCLUDING_SELF = 3;

// ESR bits (SDM 10.5.3, Figure 10-9).
export const ESR_SEND_ILLEGAL_VECTOR = 1 << 5;
export const ESR_RECEIVE_ILLEGAL_VECTOR = 1 << 6;

/** The Local APIC timer's input clock: 1 GHz, so a count at divide-by-1 is a nanosecond. */
export const TIMER_BASE_HZ = 1_000_000_000;
const NANOSECONDS_PER_BASE_TICK = 1e9 / TIMER_BASE_HZ;

/** What an ICR write sends: the message, its shorthand, and the sender. */
export interface InterprocessorInterrupts {
  sendIpi(source: number, message: ApicMessage, shorthand: number): void;
}

/** CR8 as KVM keeps it for the vCPU (kvm_run.cr8): TPR bits 7:4. */
export interface TaskPriority {
  cr8: number;
}

export interface LocalApicOptions {
  /** The vCPU index: its initial APIC ID. */
  readonly id: number;
  readonly states: LocalApicStates;
  readonly ipis: InterprocessorInterrupts;
  readonly taskPriority: TaskPriority;
  /** Monotonic nanoseconds (host/clock.ts), or a test's clock. */
  readonly now: () => number;
  /** The EOI of a level-triggered interrupt, broadcast to the IO APIC (SDM 10.8.5). */
  readonly onLevelEoi: (vector: number) => void;
  /**
   * This APIC became able to accept messages it could not before, after its enable bits were
   * published: a global enable puts it back on the bus (NMI, INIT and start-up reach it), a
   * software enable lets fixed and lowest-priority interrupts in too (SDM 10.4.3 and 10.4.7.2).
   * The IO APIC then sends again the level interrupts that found nobody to accept them. Called
   * on this vCPU's thread, with no lock held.
   */
  readonly onAcceptingInterrupts: () => void;
  /** Moves this APIC's MMIO window (IA32_APIC_BASE); false when the new range is taken. */
  readonly relocate: (base: number) => boolean;
  /** Something the user should hear about (a non-architectural access, a refused relocation). */
  readonly report: (message: string) => void;
  /** Where the APIC's registers are at reset: the config's address, what IA32_APIC_BASE reads (default 0xfee00000). */
  readonly base?: number | undefined;
}

export class LocalApic implements BusDevice {
  readonly id: number;
  private readonly states: LocalApicStates;
  private apicBase: bigint;
  /** IA32_APIC_BASE at power-on (SDM 10.4.4): the configured base, enabled, BSP on vCPU 0. */
  private readonly powerOnApicBase: bigint;
  private taskPriorityLow = 0;
  private spuriousVector = SVR_RESET;
  private readonly inService = new Uint32Array(8);
  private errorStatus = 0;
  private pendingErrors = 0;
  private interruptCommandLow = 0;
  private interruptCommandHigh = 0;
  private readonly lvt = new Map<number, number>();
  private divideConfiguration = 0;
  private initialCount = 0;
  /** When the one-shot or periodic count started, and its period, in ns. */
  private timerStart = 0;
  private timerPeriod = 0;
  /** The next expiry of whatever timer mode is armed (ns), or Infinity. */
  private timerDeadline = Infinity;
  private tscDeadline = 0n;
  /** Accesses that are not aligned 32-bit register accesses (see the header). */
  nonArchitecturalAccesses = 0;

  constructor(private readonly options: LocalApicOptions) {
    this.id = options.id;
    this.states = options.states;
    this.powerOnApicBase = BigInt(options.base ?? LOCAL_APIC_DEFAULT_BASE) | APIC_BASE_ENABLE | (options.id === 0 ? APIC_BASE_BSP : 0n);
    this.apicBase = this.powerOnApicBase;
    this.resetRegisters();
  }

  /** The next time the timer needs servicing (ns), or Infinity. */
  get nextDeadline(): number {
    return this.timerDeadline;
  }

  get base(): number {
    return Number(this.apicBase & APIC_BASE_ADDRESS_MASK);
  }

  get globallyEnabled(): boolean {
    return (this.apicBase & APIC_BASE_ENABLE) !== 0n;
  }

  // --- MMIO ---------------------------------------------------------------------------

  read(offset: number, data: Uint8Array): void {
    if (!this.globallyEnabled) {
      // A globally disabled APIC is not there: its addresses read as an unassigned bus.
      data.fill(0xff);
      return;
    }
    const within = offset & 0xf;
    if (data.length !== 4 || within !== 0) this.nonArchitectural('read', offset, data.length);
    data.fill(0);
    if (within >= 4) return;
    const value = this.readRegister(offset - within);
    const length = Math.min(data.length, 4 - within);
    for (let i = 0; i < length; i++) data[i] = (value >>> ((within + i) * 8)) & 0xff;
  }

  write(offset: number, data: Uint8Array): void {
    if (!this.globallyEnabled) return;
    if (data.length !== 4 || (offset & 0xf) !== 0) {
      this.nonArchitectural('write', offset, data.length);
      return;
    }
    this.writeRegister(offset, ((data[0] as number) | ((data[1] as number) << 8) | ((data[2] as number) << 16) | ((data[3] as number) << 24)) >>> 0);
  }

  private nonArchitectural(direction: 'read' | 'write', offset: number, length: number): void {
    if (this.nonArchitecturalAccesses++ === 0) {
      this.options.report(
        `vCPU ${this.id} made a ${length}-byte ${direction} at Local APIC offset 0x${offset.toString(16)}: only aligned 32-bit accesses are architectural (Intel SDM 10.4.1). tsvisor ${direction === 'read' ? 'returns the bytes of a register\'s first four, or 0' : 'ignores such writes'}, and counts them; this is reported once.`,
      );
    }
  }

  readRegister(offset: number): number {
    switch (offset) {
      case APIC_ID:
        return this.states.idRegister(this.id) >>> 0;
      case APIC_VERSION:
        return APIC_VERSION_VALUE;
      case APIC_TPR:
        return this.taskPriorityRegister();
      case APIC_APR:
        return this.arbitrationPriority();
      case APIC_PPR:
        return this.processorPriority();
      case APIC_LDR:
        return this.states.logicalDestination(this.id) >>> 0;
      case APIC_DFR:
        return this.states.destinationFormat(this.id) >>> 0;
      case APIC_SVR:
        return this.spuriousVector;
      case APIC_ESR:
        return this.errorStatus;
      case APIC_ICR_LOW:
        return this.interruptCommandLow;
      case APIC_ICR_HIGH:
        return this.interruptCommandHigh;
      case APIC_TIMER_INITIAL_COUNT:
        return this.initialCount;
      case APIC_TIMER_CURRENT_COUNT:
        return this.currentCount(this.options.now());
      case APIC_TIMER_DIVIDE:
        return this.divideConfiguration;
    }
    if (offset >= APIC_ISR && offset < APIC_ISR + 0x80) return this.inService[(offset - APIC_ISR) >> 4] as number;
    if (offset >= APIC_TMR && offset < APIC_TMR + 0x80) return this.states.tmrWord(this.id, (offset - APIC_TMR) >> 4) >>> 0;
    if (offset >= APIC_IRR && offset < APIC_IRR + 0x80) return this.states.irrWord(this.id, (offset - APIC_IRR) >> 4) >>> 0;
    const lvt = this.lvt.get(offset);
    if (lvt !== undefined) return lvt;
    return 0; // reserved (and write-only EOI, RRD): reads as 0
  }

  writeRegister(offset: number, value: number): void {
    switch (offset) {
      case APIC_ID:
        this.states.setIdRegister(this.id, value & 0xff00_0000);
        return;
      case APIC_TPR:
        this.taskPriorityLow = value & 0xff;
        this.options.taskPriority.cr8 = (value >> 4) & 0xf;
        this.publishPriority();
        return;
      case APIC_EOI:
        this.endOfInterrupt();
        return;
      case APIC_LDR:
        this.states.setLogicalDestination(this.id, value & 0xff00_0000);
        return;
      case APIC_DFR:
        this.states.setDestinationFormat(this.id, (value & DFR_MODEL_MASK) | 0x0fff_ffff);
        return;
      case APIC_SVR:
        this.writeSpuriousVector(value);
        return;
      case APIC_ESR:
        // A write latches the errors seen since the last one (SDM 10.5.3).
        this.errorStatus = this.pendingErrors;
        this.pendingErrors = 0;
        return;
      case APIC_ICR_LOW:
        this.interruptCommandLow = value & ICR_LOW_WRITABLE;
        this.sendInterruptCommand();
        return;
      case APIC_ICR_HIGH:
        this.interruptCommandHigh = value & 0xff00_0000;
        return;
      case APIC_TIMER_INITIAL_COUNT:
        this.startCount(value);
        return;
      case APIC_TIMER_DIVIDE:
        this.writeDivideConfiguration(value & 0xb);
        return;
    }
    const writable = LVT_WRITABLE[offset];
    if (writable !== undefined) this.writeLvt(offset, value & writable);
    // Everything else is read-only or reserved: writes are ignored.
  }

  // --- Priorities and delivery -------------------------------------------------------

  /** TPR bits 7:4 are CR8; when the guest changed CR8 since TPR was written, bits 3:0 read 0 (SDM 10.8.6.1). */
  private taskPriorityRegister(): number {
    const cr8 = this.options.taskPriority.cr8;
    if (this.taskPriorityLow >> 4 !== cr8) this.taskPriorityLow = cr8 << 4;
    return this.taskPriorityLow;
  }

  private highestInService(): number {
    for (let word = 7; word >= 0; word--) {
      const bits = this.inService[word] as number;
      if (bits !== 0) return word * 32 + 31 - Math.clz32(bits);
    }
    return -1;
  }

  private highestRequested(): number {
    for (let word = 7; word >= 0; word--) {
      const bits = this.states.irrWord(this.id, word);
      if (bits !== 0) return word * 32 + 31 - Math.clz32(bits);
    }
    return -1;
  }

  /** PPR (SDM 10.8.3.1): the task priority, or the class of the highest vector in service if higher. */
  processorPriority(): number {
    const tpr = this.taskPriorityRegister();
    const isrv = Math.max(this.highestInService(), 0);
    return (tpr & 0xf0) >= (isrv & 0xf0) ? tpr : isrv & 0xf0;
  }

  /** APR (SDM 10.6.2.4): what lowest-priority arbitration compares. */
  private arbitrationPriority(): number {
    const tpr = this.taskPriorityRegister();
    const isrv = Math.max(this.highestInService(), 0);
    const irrv = Math.max(this.highestRequested(), 0);
    if ((tpr & 0xf0) >= (irrv & 0xf0) && (tpr & 0xf0) > (isrv & 0xf0)) return tpr;
    return Math.max(tpr & 0xf0, isrv & 0xf0, irrv & 0xf0);
  }

  private publishPriority(): void {
    this.states.setProcessorPriority(this.id, this.processorPriority());
  }

  /**
   * The vector the vCPU should take next: the highest in IRR whose priority class is above
   * PPR's (SDM 10.8.3.1), or -1 when none may interrupt now.
   */
  deliverableVector(): number {
    const vector = this.highestRequested();
    if (vector < 0 || !this.states.accepting(this.id)) return -1;
    return (vector & 0xf0) > (this.processorPriority() & 0xf0) ? vector : -1;
  }

  /**
   * A vector waits in IRR above the class in service but not above the task priority: only
   * lowering TPR (or CR8) lets it in.
   */
  heldByTaskPriority(): boolean {
    const vector = this.highestRequested();
    if (vector < 0 || !this.states.accepting(this.id)) return false;
    const isrv = Math.max(this.highestInService(), 0);
    return (vector & 0xf0) > (isrv & 0xf0) && (vector & 0xf0) <= (this.taskPriorityRegister() & 0xf0);
  }

  /** The processor takes `vector`: it moves from IRR to ISR (SDM 10.8.4). */
  acknowledge(vector: number): void {
    this.states.clearRequest(this.id, vector);
    this.inService[vector >> 5] = ((this.inService[vector >> 5] as number) | (1 << (vector & 31))) >>> 0;
    this.publishPriority();
  }

  private endOfInterrupt(): void {
    const vector = this.highestInService();
    if (vector < 0) return;
    this.inService[vector >> 5] = ((this.inService[vector >> 5] as number) & ~(1 << (vector & 31))) >>> 0;
    this.publishPriority();
    if ((this.states.tmrWord(this.id, vector >> 5) >>> (vector & 31)) & 1) this.options.onLevelEoi(vector);
  }

  /** Something arrived since the last takeAttention(): one atomic load, for the vCPU's entry path. */
  get hasAttention(): boolean {
    return this.states.hasAttention(this.id);
  }

  /** The NMI, INIT and start-up IPI requests that wait, left raised (ATTENTION_* bits). */
  get pendingEvents(): number {
    return this.states.attention(this.id) & ATTENTION_EVENTS;
  }

  /** IA32_APIC_BASE's BSP flag: after INIT this processor runs from the reset vector instead of waiting for a SIPI. */
  get bootstrapProcessor(): boolean {
    return (this.apicBase & APIC_BASE_BSP) !== 0n;
  }

  /** Any vector in IRR, deliverable now or not. */
  get hasRequests(): boolean {
    return this.highestRequested() >= 0;
  }

  /**
   * Takes what senders raised: records errors, and returns the NMI, INIT and start-up requests
   * (ATTENTION_* bits) for the vCPU to act on; the start-up vector is then startupVector.
   */
  takeAttention(): number {
    const raised = this.states.takeAttention(this.id);
    if (raised & ATTENTION_ILLEGAL_VECTOR) this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
    return raised & ATTENTION_EVENTS;
  }

  /**
   * For a halted processor: takes what does not end a halt, leaving NMI and INIT raised. An
   * illegal vector is recorded (its error interrupt may then end the halt); a start-up IPI to a
   * processor that is not waiting for one is ignored (SDM vol. 3A, 8.4.4.1).
   */
  absorbAttention(): void {
    const raised = this.states.takeAttention(this.id, ATTENTION_NMI | ATTENTION_INIT);
    if (raised & ATTENTION_ILLEGAL_VECTOR) this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
  }

  /** The vector of the start-up IPI takeAttention() returned. */
  get startupVector(): number {
    return this.states.startupVector(this.id);
  }

  /** An interrupt from this APIC's own LVT: a fixed, edge-triggered request unless masked. */
  private requestLocal(lvtOffset: number): void {
    const entry = this.lvt.get(lvtOffset) as number;
    if (entry & LVT_MASKED || !this.states.accepting(this.id)) return;
    const vector = entry & 0xff;
    if (vector < 16) {
      // An illegal vector in the error LVT itself only records the error: signalling it
      // through the error LVT again would recurse without end (a guest-triggered stack overflow).
      if (lvtOffset === APIC_LVT_ERROR) this.pendingErrors |= ESR_RECEIVE_ILLEGAL_VECTOR;
      else this.raiseError(ESR_RECEIVE_ILLEGAL_VECTOR);
      return;
    }
    this.states.request(this.id, vector, false);
  }

  private raiseError(bit: number): void {
    this.pendingErrors |= bit;
    this.requestLocal(APIC_LVT_ERROR);
  }

  private writeSpuriousVector(value: number): void {
    this.spuriousVector = value & SVR_WRITABLE;
    const enabled = (value & SVR_SOFTWARE_ENABLE) !== 0;
    this.setEnableBits(ENABLE_GLOBAL | (enabled ? ENABLE_SOFTWARE : 0));
    // Software-disabling masks every LVT entry (SDM 10.4.7.2).
    if (!enabled) for (const offset of LVT_OFFSETS) this.lvt.set(offset, (this.lvt.get(offset) as number) | LVT_MASKED);
  }

  private writeLvt(offset: number, value: number): void {
    // While software-disabled, the mask bits cannot be cleared (SDM 10.4.7.2).
    const masked = this.states.accepting(this.id) ? value : value | LVT_MASKED;
    if (offset === APIC_LVT_TIMER) {
      const before = this.timerMode();
      this.lvt.set(offset, masked);
      // Moving into or out of TSC-deadline mode disarms the timer (SDM 10.5.4.1).
      if ((before === TIMER_MODE_TSC_DEADLINE) !== (this.timerMode() === TIMER_MODE_TSC_DEADLINE)) this.stopTimer();
      return;
    }
    this.lvt.set(offset, masked);
  }

  private sendInterruptCommand(): void {
    const low = this.interruptCommandLow;
    const deliveryMode = (low >> ICR_DELIVERY_MODE_SHIFT) & 7;
    const vector = low & ICR_VECTOR;
    if ((deliveryMode === DeliveryMode.fixed || deliveryMode === DeliveryMode.lowestPriority) && vector < 16) {
      this.raiseError(ESR_SEND_ILLEGAL_VECTOR);
      return;
    }
    // INIT level de-assert (level 0, level-triggered) only synchronises arbitration IDs on old
    // processors; the Pentium 4 and later ignore it (SDM 10.6.1), and so does this APIC.
    if (deliveryMode === DeliveryMode.init && !(low & ICR_LEVEL_ASSERT) && low & ICR_LEVEL_TRIGGERED) return;
    this.options.ipis.sendIpi(
      this.id,
      {
        vector,
        deliveryMode,
        logical: (low & ICR_LOGICAL) !== 0,
        destination: this.interruptCommandHigh >>> 24,
        levelTriggered: (low & ICR_LEVEL_TRIGGERED) !== 0,
      },
      (low >> ICR_SHORTHAND_SHIFT) & 3,
    );
  }

  // --- Timer (SDM 10.5.4) ------------------------------------------------------------

  private timerMode(): number {
    return ((this.lvt.get(APIC_LVT_TIMER) as number) >> LVT_TIMER_MODE_SHIFT) & 3;
  }

  /** Divide configuration bits 3, 1, 0 (SDM Figure 10-10): 111b divides by 1, n by 2^(n+1). */
  private divisor(): number {
    const code = ((this.divideConfiguration >> 1) & 4) | (this.divideConfiguration & 3);
    return code === 7 ? 1 : 2 << code;
  }

  private startCount(count: number): void {
    // In TSC-deadline mode, writes to the initial-count register are ignored (SDM 10.5.4.1):
    // the register keeps its value, so the mode check comes before the store.
    if (this.timerMode() === TIMER_MODE_TSC_DEADLINE) return;
    this.initialCount = count;
    if (count === 0) {
      this.stopTimer();
      return;
    }
    this.timerStart = this.options.now();
    this.timerPeriod = count * this.divisor() * NANOSECONDS_PER_BASE_TICK;
    this.timerDeadline = this.timerStart + this.timerPeriod;
  }

  private stopTimer(): void {
    this.timerDeadline = Infinity;
    this.tscDeadline = 0n;
  }

  /** A new divisor applies at once: the counts left are kept and now tick at the new rate. */
  private writeDivideConfiguration(value: number): void {
    const now = this.options.now();
    const remaining = this.timerDeadline === Infinity || this.timerMode() === TIMER_MODE_TSC_DEADLINE ? 0 : this.currentCount(now);
    this.divideConfiguration = value;
    if (remaining === 0) return;
    const tick = this.divisor() * NANOSECONDS_PER_BASE_TICK;
    this.timerPeriod = this.initialCount * tick;
    this.timerDeadline = now + remaining * tick;
    this.timerStart = this.timerDeadline - this.timerPeriod;
  }

  private currentCount(now: number): number {
    if (this.timerDeadline === Infinity || this.timerMode() === TIMER_MODE_TSC_DEADLINE) return 0;
    let remaining = this.timerDeadline - now;
    if (remaining <= 0) {
      if (this.timerMode() !== TIMER_MODE_PERIODIC) return 0;
      // A periodic count already reloaded, even if its interrupt is still to be serviced.
      remaining = this.timerPeriod - ((now - this.timerStart) % this.timerPeriod);
    }
    return Math.min(this.initialCount, Math.ceil(remaining / (this.divisor() * NANOSECONDS_PER_BASE_TICK)));
  }

  /**
   * Fires the timer if its deadline has passed. A periodic timer that fell several periods
   * behind (a busy host) fires once and moves to its next period boundary: like a vector
   * still pending in IRR, the missed ticks coalesce.
   */
  serviceTimer(now: number): void {
    if (now < this.timerDeadline) return;
    this.requestLocal(APIC_LVT_TIMER);
    if (this.timerMode() === TIMER_MODE_PERIODIC && this.timerPeriod > 0) {
      // Period boundaries passed by now, and the one this service fires for: those between coalesced.
      const passed = Math.floor((now - this.timerStart) / this.timerPeriod);
      const firing = Math.round((this.timerDeadline - this.timerStart) / this.timerPeriod);
      const timer = this.lvt.get(APIC_LVT_TIMER) as number;
      const raised = !(timer & LVT_MASKED) && (timer & 0xff) >= 16 && this.states.accepting(this.id);
      if (passed > firing && raised) this.states.countCoalesced(this.id, timer & 0xff, passed - firing);
      this.timerDeadline = this.timerStart + (passed + 1) * this.timerPeriod;
    } else {
      this.stopTimer();
    }
  }

  /** IA32_TSC_DEADLINE reads its armed value, 0 once fired or outside TSC-deadline mode (SDM 10.5.4.1). */
  readTscDeadline(): bigint {
    return this.timerMode() === TIMER_MODE_TSC_DEADLINE ? this.tscDeadline : 0n;
  }

  /** Arms (or, for 0, disarms) the TSC deadline; `deadline` is when the guest's TSC reaches `value`, in ns. */
  writeTscDeadline(value: bigint, deadline: number): void {
    if (this.timerMode() !== TIMER_MODE_TSC_DEADLINE) return; // ignored in other modes
    this.tscDeadline = value;
    this.timerDeadline = value === 0n ? Infinity : deadline;
  }

  // --- IA32_APIC_BASE and reset ------------------------------------------------------

  readApicBase(): bigint {
    return this.apicBase;
  }

  /** A write of IA32_APIC_BASE; false when it must raise #GP (reserved bits, or x2APIC, which this CPU lacks). */
  writeApicBase(value: bigint): boolean {
    if (value & APIC_BASE_RESERVED) return false;
    const wasEnabled = this.globallyEnabled;
    const base = Number(value & APIC_BASE_ADDRESS_MASK);
    if (base !== this.base && !this.options.relocate(base)) {
      this.options.report(
        `vCPU ${this.id} asked to move its Local APIC to 0x${base.toString(16)}, where its 4 KiB would overlap another device or guarded memory; it stays at 0x${this.base.toString(16)}.`,
      );
      value = (value & ~APIC_BASE_ADDRESS_MASK) | BigInt(this.base);
    }
    // The BSP flag is read/write (SDM 10.4.4, Figure 10-5): software that clears it makes an INIT park this processor.
    this.apicBase = value & (APIC_BASE_BSP | APIC_BASE_ENABLE | APIC_BASE_ADDRESS_MASK);
    const enabled = this.globallyEnabled;
    if (wasEnabled && !enabled) {
      // Globally disabled: the APIC is gone until re-enabled, then starts from its power-up state (SDM 10.4.3).
      this.states.clearAllRequests(this.id);
      this.setEnableBits(0);
      this.stopTimer();
    } else if (!wasEnabled && enabled) {
      this.reset();
      this.options.onAcceptingInterrupts(); // back on the bus: NMI, INIT and start-up reach it again
    }
    return true;
  }

  /** The power-up state (SDM 10.4.7.1), keeping the base, with the initial APIC ID. */
  reset(): void {
    this.states.reset(this.id);
    this.resetRegisters();
  }

  /**
   * A machine reset (RESET, not INIT: SDM 10.4.7.1): IA32_APIC_BASE as at power-on (its
   * registers back at their first address, the BSP flag on vCPU 0 alone, enabled), the initial
   * APIC ID, and nothing waiting: the NMI, INIT and start-up requests raised before the reset
   * are gone with it, unlike INIT's.
   */
  powerOn(): void {
    if (this.base !== Number(this.powerOnApicBase & APIC_BASE_ADDRESS_MASK)) this.options.relocate(Number(this.powerOnApicBase & APIC_BASE_ADDRESS_MASK));
    this.apicBase = this.powerOnApicBase;
    this.states.takeAttention(this.id);
    this.states.reset(this.id);
    this.resetRegisters();
  }

  /** INIT: the power-up state, except that the APIC ID survives (SDM 10.4.7.3). */
  init(): void {
    this.states.reset(this.id, this.states.idRegister(this.id));
    this.resetRegisters();
  }

  private resetRegisters(): void {
    this.taskPriorityLow = 0;
    this.options.taskPriority.cr8 = 0;
    this.spuriousVector = SVR_RESET;
    this.inService.fill(0);
    this.errorStatus = 0;
    this.pendingErrors = 0;
    this.interruptCommandLow = 0;
    this.interruptCommandHigh = 0;
    for (const offset of LVT_OFFSETS) this.lvt.set(offset, LVT_MASKED);
    this.divideConfiguration = 0;
    this.initialCount = 0;
    this.stopTimer();
    if (!this.globallyEnabled) this.setEnableBits(0);
    this.publishPriority();
  }

  /** Publishes the enable bits (ENABLE_*) for the bus to see, and tells onAcceptingInterrupts when one was newly set. */
  private setEnableBits(bits: number): void {
    const before = this.states.enableBits(this.id);
    this.states.setEnableBits(this.id, bits);
    if (bits & ~before) this.options.onAcceptingInterrupts();
  }
}
