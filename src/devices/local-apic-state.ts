/**
 * The part of every vCPU's Local APIC that other threads touch: the interrupt request and
 * trigger mode registers (IRR, TMR), what destination matching reads (ID, LDR, DFR, the
 * enable bits), the processor priority for lowest-priority arbitration, and an attention
 * word through which a sender tells the owning vCPU that something arrived (Intel SDM vol.
 * 3A, 10.6 "Issuing interprocessor interrupts" and 10.8 "Handling interrupts").
 *
 * One SharedArrayBuffer holds every vCPU's block. A sender sets bits with atomics, then
 * notifies the owner (a kick, or a wake when it sleeps); the owner reads the attention word
 * before every KVM_RUN. Everything only the owner touches (ISR, LVTs, the timer) stays in
 * its LocalApic object.
 */

// Words of one vCPU's block.
const IRR = 0; // 8 words, vector v at bit v % 32 of word v >> 5
const TMR = 8; // 8 words: 1 = the vector in IRR/ISR was accepted level-triggered
const ID = 16; // the ID register's value (ID in bits 31:24)
const LDR = 17;
const DFR = 18;
const ENABLE = 19; // ENABLE_* bits
const PPR = 20;
const ATTENTION = 21; // ATTENTION_* bits, set by senders, taken by the owner
const STARTUP_VECTOR = 22; // the vector of the last start-up IPI, valid while ATTENTION_STARTUP is raised
const WORDS_PER_APIC = 24;
/**
 * After every APIC's block, a statistic that survives resets: for each vCPU and vector, the
 * interrupts that coalesced with one already pending (SDM 10.8.4: IRR holds one request per
 * vector), or that a timer could not raise because it was serviced periods late.
 */
const COALESCED_WORDS_PER_APIC = 256;
/**
 * After the coalesced counts, one more statistic that survives resets: the messages on the
 * APIC bus (from the IO APIC, or an ICR) that no Local APIC accepted.
 */
const UNDELIVERED_WORDS = 1;
/**
 * Last, the machine's shape rather than an APIC's state: how many vCPUs are on the APIC bus,
 * from vCPU 0 up. The others exist but are not plugged in (libvirt's <vcpu current>): no
 * message reaches them, so a guest cannot start them until the count is raised.
 */
const PLUGGED_WORDS = 1;

/** IA32_APIC_BASE bit 11: the APIC is globally enabled (SDM 10.4.3). */
export const ENABLE_GLOBAL = 1 << 0;
/** SVR bit 8: the APIC is software-enabled (SDM 10.4.7.2). */
export const ENABLE_SOFTWARE = 1 << 1;

/** New bits in IRR. */
export const ATTENTION_INTERRUPT = 1 << 0;
export const ATTENTION_NMI = 1 << 1;
export const ATTENTION_INIT = 1 << 2;
/** A fixed interrupt with a vector below 16 arrived: ESR bit 6, "receive illegal vector". */
export const ATTENTION_ILLEGAL_VECTOR = 1 << 3;
/**
 * A start-up IPI arrived, its vector in STARTUP_VECTOR. Latched whatever the target is doing,
 * as KVM latches it (pending_events): the target acts on it only if it waits for one, after
 * an INIT taken with it (SDM vol. 3A, 8.4.4.1), so INIT followed at once by SIPI loses nothing.
 */
export const ATTENTION_STARTUP = 1 << 4;
/** What the owning vCPU acts on as events rather than as vectors in IRR. */
export const ATTENTION_EVENTS = ATTENTION_NMI | ATTENTION_INIT | ATTENTION_STARTUP;

/** DFR bits 31:28: 1111b is the flat model, 0000b the cluster model (SDM 10.6.2.2). */
export const DFR_FLAT = 0xffff_ffff | 0;
export const DFR_MODEL_MASK = 0xf000_0000 | 0;

export class LocalApicStates {
  private readonly words: Int32Array;
  private readonly coalesced: Int32Array;
  private readonly undelivered: Int32Array;
  private readonly plugged: Int32Array;

  constructor(
    readonly vcpuCount: number,
    readonly buffer: SharedArrayBuffer = LocalApicStates.create(vcpuCount),
  ) {
    this.words = new Int32Array(buffer, 0, vcpuCount * WORDS_PER_APIC);
    this.coalesced = new Int32Array(buffer, vcpuCount * WORDS_PER_APIC * 4, vcpuCount * COALESCED_WORDS_PER_APIC);
    this.undelivered = new Int32Array(buffer, vcpuCount * (WORDS_PER_APIC + COALESCED_WORDS_PER_APIC) * 4, UNDELIVERED_WORDS);
    this.plugged = new Int32Array(buffer, (vcpuCount * (WORDS_PER_APIC + COALESCED_WORDS_PER_APIC) + UNDELIVERED_WORDS) * 4, PLUGGED_WORDS);
  }

  /** A fresh block for `vcpuCount` APICs in their power-up state: APIC ID = vCPU index, flat model, software-disabled. */
  static create(vcpuCount: number): SharedArrayBuffer {
    const buffer = new SharedArrayBuffer((vcpuCount * (WORDS_PER_APIC + COALESCED_WORDS_PER_APIC) + UNDELIVERED_WORDS + PLUGGED_WORDS) * 4);
    const states = new LocalApicStates(vcpuCount, buffer);
    for (let id = 0; id < vcpuCount; id++) states.reset(id);
    states.setPluggedCount(vcpuCount);
    return buffer;
  }

  /**
   * The power-up state of vCPU `id`'s shared registers (SDM 10.4.7.1), with the APIC ID register
   * `idRegister` (the initial one at power-up; INIT keeps the current one, 10.4.7.3). Events on
   * their way (the attention word, a latched SIPI) are not registers and survive: a SIPI sent
   * right behind the INIT that resets this APIC must still find it. For the same reason the
   * words a sender matches (the ID, the enable bits) go straight to their new values, never
   * through 0: another vCPU addressing this APIC during the reset must not find it off the bus.
   */
  reset(id: number, idRegister = id << 24): void {
    const base = id * WORDS_PER_APIC;
    for (let word = 0; word < WORDS_PER_APIC; word++) {
      if (word !== ATTENTION && word !== STARTUP_VECTOR && word !== ID && word !== DFR && word !== ENABLE) Atomics.store(this.words, base + word, 0);
    }
    Atomics.store(this.words, base + ID, idRegister);
    Atomics.store(this.words, base + DFR, DFR_FLAT);
    Atomics.store(this.words, base + ENABLE, ENABLE_GLOBAL);
  }

  /** APIC IDs are 8 bits in the xAPIC. */
  apicId(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + ID) >>> 24;
  }
  idRegister(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + ID);
  }
  setIdRegister(id: number, value: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + ID, value);
  }
  logicalDestination(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + LDR);
  }
  setLogicalDestination(id: number, value: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + LDR, value);
  }
  destinationFormat(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + DFR);
  }
  setDestinationFormat(id: number, value: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + DFR, value);
  }
  enableBits(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + ENABLE);
  }
  setEnableBits(id: number, bits: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + ENABLE, bits);
  }
  processorPriority(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + PPR);
  }
  setProcessorPriority(id: number, value: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + PPR, value);
  }

  /** Both enable bits set: the APIC accepts fixed and lowest-priority interrupts. */
  accepting(id: number): boolean {
    const bits = this.enableBits(id);
    return (bits & (ENABLE_GLOBAL | ENABLE_SOFTWARE)) === (ENABLE_GLOBAL | ENABLE_SOFTWARE);
  }

  /** Puts `vector` into vCPU `id`'s IRR, noting its trigger mode in TMR (SDM 10.8.4), and raises its attention. */
  request(id: number, vector: number, levelTriggered: boolean): void {
    const word = id * WORDS_PER_APIC + (vector >> 5);
    const bit = 1 << (vector & 31);
    if (levelTriggered) Atomics.or(this.words, word + TMR, bit);
    else Atomics.and(this.words, word + TMR, ~bit);
    if (Atomics.or(this.words, word + IRR, bit) & bit) this.countCoalesced(id, vector, 1);
    this.raise(id, ATTENTION_INTERRUPT);
  }

  /** `count` interrupts for `vector` on vCPU `id` merged with others instead of being delivered each. */
  countCoalesced(id: number, vector: number, count: number): void {
    Atomics.add(this.coalesced, id * COALESCED_WORDS_PER_APIC + vector, count);
  }

  /** How many interrupts for `vector` on vCPU `id` coalesced so far. */
  coalescedCount(id: number, vector: number): number {
    return Atomics.load(this.coalesced, id * COALESCED_WORDS_PER_APIC + vector);
  }

  /** Latches a start-up IPI for vCPU `id`: the vector first, then the attention bit that makes it valid. */
  latchStartup(id: number, vector: number): void {
    Atomics.store(this.words, id * WORDS_PER_APIC + STARTUP_VECTOR, vector & 0xff);
    this.raise(id, ATTENTION_STARTUP);
  }

  /** The vector of the latched start-up IPI (read after taking ATTENTION_STARTUP). */
  startupVector(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + STARTUP_VECTOR);
  }

  /** How many vCPUs, from 0 up, are on the APIC bus. */
  pluggedCount(): number {
    return Atomics.load(this.plugged, 0);
  }
  setPluggedCount(count: number): void {
    Atomics.store(this.plugged, 0, count);
  }

  /** A message on the APIC bus that no Local APIC accepted. */
  countUndelivered(): void {
    Atomics.add(this.undelivered, 0, 1);
  }

  /** How many messages no Local APIC accepted so far, on any thread. */
  undeliveredCount(): number {
    return Atomics.load(this.undelivered, 0) >>> 0;
  }

  raise(id: number, attention: number): void {
    Atomics.or(this.words, id * WORDS_PER_APIC + ATTENTION, attention);
  }

  /** True when anything was raised since the last take(): one load, for the owner's entry path. */
  hasAttention(id: number): boolean {
    return Atomics.load(this.words, id * WORDS_PER_APIC + ATTENTION) !== 0;
  }

  /** The raised ATTENTION_* bits, left raised. */
  attention(id: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + ATTENTION);
  }

  /** The raised ATTENTION_* bits, clearing them; bits in `keep` stay raised (and are not returned). */
  takeAttention(id: number, keep = 0): number {
    const word = id * WORDS_PER_APIC + ATTENTION;
    return (keep === 0 ? Atomics.exchange(this.words, word, 0) : Atomics.and(this.words, word, keep)) & ~keep;
  }

  /** Word `index` (0-7) of IRR. */
  irrWord(id: number, index: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + IRR + index);
  }
  tmrWord(id: number, index: number): number {
    return Atomics.load(this.words, id * WORDS_PER_APIC + TMR + index);
  }
  clearRequest(id: number, vector: number): void {
    Atomics.and(this.words, id * WORDS_PER_APIC + IRR + (vector >> 5), ~(1 << (vector & 31)));
  }
  clearAllRequests(id: number): void {
    for (let i = 0; i < 8; i++) {
      Atomics.store(this.words, id * WORDS_PER_APIC + IRR + i, 0);
      Atomics.store(this.words, id * WORDS_PER_APIC + TMR + i, 0);
    }
  }
}
