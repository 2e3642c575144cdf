/**
 * The PC's pair of 8259A Programmable Interrupt Controllers (Intel 8259A data sheet), as a
 * state machine: the master at I/O ports 0x20-0x21, the slave at 0xa0-0xa1 with its INT
 * output wired to the master's IR2, and the chipset's Edge/Level Control Registers (ELCR) at
 * 0x4d0-0x4d1 (Intel PIIX/ICH data sheets), which choose the trigger mode per IRQ.
 *
 * tsvisor delivers interrupts through its IO APIC, but kernels program the PIC at boot, mask
 * it (ArceOS and Linux write 0xff to 0x21 and 0xa1) and read the masks back (Linux's
 * probe_8259A), so its registers behave as the data sheet says. Its INT output is offered for
 * a platform that wires it to the BSP's LINT0 (ExtINT); `acknowledge()` is the INTA cycle.
 *
 * Modelled, per chip: IRR, ISR and IMR; the initialization sequence ICW1 to ICW4; OCW1 (the
 * mask), every OCW2 command (non-specific and specific EOI, rotation on either, set priority,
 * rotation in AEOI mode), OCW3 (read IRR or ISR, poll, special mask mode); priority rotation
 * (a lowest-priority level); automatic EOI; special fully nested mode on the master; edge or
 * level triggering, by ICW1's LTIM for a whole chip as on a lone 8259A, or per IRQ by the
 * ELCR as on PC chipsets (which ignore LTIM; either makes an input level-triggered here).
 * Across the pair: the cascade, by ICW3 (the master's slave inputs, the slave's ID), and the
 * INTA cycle's vector.
 *
 * Not modelled: MCS-80/85 mode (µPM = 0, with ICW1's ADI and A7-A5 and ICW2's A10-A8):
 * an x86 CPU only runs 8086 INTA cycles, so the vector is the 8086 one whatever µPM says.
 * Buffered mode and ICW4's M/S bit: a chip's role is wired by the ports it sits at. SNGL on
 * the slave: it answers when the master selects it. Spurious interrupts (the data sheet's IR7
 * answer to an INTA cycle whose request went away after INT rose): an edge is latched in IRR
 * until acknowledged, as QEMU's and KVM's models do, since devices here pulse their lines
 * faster than any CPU answers; the master's IR2 follows the slave's INT as a level (see
 * propagate); and an INTA cycle runs atomically with the state that raised INT, or not at
 * all while INT is low. No timing.
 *
 * The chips are 8-bit devices on the ISA bus, which splits a wider access into byte cycles
 * at ascending ports: so does this model. A byte past a chip's two ports reads 0xff (nothing
 * drives the bus) and is dropped when written; any value at any port leaves a state the
 * data sheet could reach, and the initialization sequence always starts over from ICW1.
 *
 * Both chips and the ELCR live in one SharedState with one lock: the cascade couples the
 * chips (a slave's EOI or mask moves the master's IR2, an INTA cycle runs through both), so
 * every vCPU thread builds its own Pic8259 over the same block and each operation takes the
 * lock. The output's setLevel is called under it, when the level changes, so that two
 * threads cannot deliver their levels out of order; it must not call back into the PIC (a
 * Local APIC records the ExtINT and its vCPU calls acknowledge() later). Devices call
 * setIrq under their own locks, as they drive the IO APIC's pins.
 */
import { UNCONNECTED_LINE, type BusDevice, type InterruptLine } from './bus-device.js';
import { SharedState } from './shared-state.js';

/** Where a PC puts the chips, each on two ports: the command port (A0 = 0), then the data port (A0 = 1). */
export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const PIC_PORT_COUNT = 2;
export const PIC_COMMAND = 0;
export const PIC_DATA = 1;
/** The ELCR: 0x4d0 for IRQ 0-7, 0x4d1 for IRQ 8-15, one bit per IRQ (1 = level-triggered). */
export const ELCR_PORT = 0x4d0;
export const ELCR_PORT_COUNT = 2;
/** IRQ 0, 1, 2 (timer, keyboard, cascade), 8 (RTC) and 13 (FPU) are edge-triggered on a PC: their ELCR bits read 0. */
const ELCR_WRITABLE = 0xdef8;

/** IRQ 0-7 reach the master's IR0-7, IRQ 8-15 the slave's; the slave's INT is the master's IR2. */
export const PIC_IRQ_COUNT = 16;
export const PIC_CASCADE_IRQ = 2;

// ICW1, at the command port: bit 4 set marks it.
export const ICW1_INIT = 0x10;
export const ICW1_LTIM = 0x08; // level-triggered inputs
export const ICW1_SNGL = 0x02; // a single chip: no ICW3, no cascade
export const ICW1_IC4 = 0x01; // an ICW4 follows
// ICW4, at the data port when ICW1 asked for it.
export const ICW4_8086 = 0x01; // µPM: stored, the vector is the 8086 one either way (see the header)
export const ICW4_AEOI = 0x02;
export const ICW4_SFNM = 0x10;
const ICW4_BITS = 0x1f; // bits 7:5 are 0
// OCW2, at the command port with bits 4:3 = 00: R, SL, EOI in bits 7:5 and a level in 2:0.
export const OCW2_ROTATE_AEOI_CLEAR = 0x00;
export const OCW2_EOI = 0x20;
export const OCW2_NOP = 0x40;
export const OCW2_SPECIFIC_EOI = 0x60;
export const OCW2_ROTATE_AEOI_SET = 0x80;
export const OCW2_ROTATE_EOI = 0xa0;
export const OCW2_SET_PRIORITY = 0xc0;
export const OCW2_ROTATE_SPECIFIC_EOI = 0xe0;
const OCW2_ROTATE = 0x80; // R
const OCW2_COMMAND = 0xe0;
// OCW3, at the command port with bits 4:3 = 01.
export const OCW3 = 0x08;
export const OCW3_READ_IRR = 0x0a; // RR with RIS = 0
export const OCW3_READ_ISR = 0x0b; // RR with RIS = 1
export const OCW3_POLL = 0x0c;
export const OCW3_SET_SPECIAL_MASK = 0x68; // ESMM with SMM = 1
export const OCW3_CLEAR_SPECIAL_MASK = 0x48; // ESMM with SMM = 0
const OCW3_RR = 0x02;
const OCW3_RIS = 0x01;
const OCW3_P = 0x04;
const OCW3_ESMM = 0x40;
const OCW3_SMM = 0x20;
/** A poll's answer: bit 7 set when a request was pending, its level in bits 2:0. */
export const POLL_INTERRUPT = 0x80;

const MASTER = 0;
const SLAVE = 1;
const CASCADE_BIT = 1 << PIC_CASCADE_IRQ;
const NONE = -1;
/** The level an INTA cycle that finds no request answers with (8259A, "Interrupt Sequence"). */
const NO_REQUEST_LEVEL = 7;
/** What the CPU reads when no chip drives the data bus in the INTA cycle. */
const FLOATING_BUS = 0xff;

/** A chip's words in the shared state, from its base (MASTER or SLAVE times CHIP_WORDS). */
const IRR = 0;
const ISR = 1;
const IMR_INVERTED = 2; // IMR XOR 0xff: a zeroed block is a chip with every input masked
const INPUTS = 3; // bit n: the level of the device's wire on IRn (none on the master's IR2, the slave's INT)
const HIGHEST = 4; // the level with the highest priority; the one before it has the lowest
const ICW1 = 5; // LTIM, SNGL and IC4 as written
const VECTOR_BASE = 6; // ICW2 bits 7:3 (T7-T3)
const ICW3 = 7; // the master's slave inputs, or the slave's ID in bits 2:0
const ICW4 = 8; // as written, 0 when ICW1 said no ICW4
const INIT_STEP = 9; // the ICW the data port takes next, or READY
const FLAGS = 10; // READ_ISR | POLL | SPECIAL_MASK | ROTATE_IN_AEOI
const CHIP_WORDS = 11;
const ELCR = 2 * CHIP_WORDS; // bits 15:0, one per IRQ
const OUTPUT = ELCR + 1; // the level last given to the output line
/** The number of words the pair's shared state holds. */
export const PIC_STATE_WORDS = OUTPUT + 1;

// INIT_STEP values.
const READY = 0;
const EXPECT_ICW2 = 1;
const EXPECT_ICW3 = 2;
const EXPECT_ICW4 = 3;
// FLAGS bits.
const READ_ISR = 1;
const POLL = 2;
const SPECIAL_MASK = 4;
const ROTATE_IN_AEOI = 8;

export interface Pic8259Options {
  /** The master's INT pin: the BSP's LINT0 in ExtINT mode, or nothing (UNCONNECTED_LINE) when interrupts go through the IO APIC. */
  readonly output?: InterruptLine;
  /** The state shared with the other threads' views of this pair (a fresh one when omitted). */
  readonly state?: SharedState;
}

/**
 * The pair. A zeroed shared state is its power-on state, which the data sheet leaves
 * undefined until ICW1: here nothing is pending or in service, every input is masked (IMR
 * 0xff, so an unprogrammed PIC asks nothing of the CPU), the vector base is 0, IR7 has the
 * lowest priority, the command port reads IRR and every ELCR bit is 0 (edge).
 */
export class Pic8259 {
  /** Ports 0x20-0x21. */
  readonly master: BusDevice;
  /** Ports 0xa0-0xa1. */
  readonly slave: BusDevice;
  /** Ports 0x4d0-0x4d1. */
  readonly elcr: BusDevice;
  private readonly output: InterruptLine;
  private readonly state: SharedState;

  constructor(options: Pic8259Options = {}) {
    this.output = options.output ?? UNCONNECTED_LINE;
    this.state = options.state ?? new SharedState(PIC_STATE_WORDS);
    if (this.state.wordCount < PIC_STATE_WORDS) throw new RangeError('the PIC needs a larger shared state');
    this.master = this.chipPorts(MASTER);
    this.slave = this.chipPorts(SLAVE);
    this.elcr = {
      read: (offset, data) => this.readBytes(offset, data, ELCR_PORT_COUNT, (port) => (this.state.get(ELCR) >> (8 * port)) & 0xff),
      write: (offset, data) => this.writeBytes(offset, data, ELCR_PORT_COUNT, (port, value) => this.writeElcr(port, value)),
    };
  }

  /**
   * A machine reset: both chips back to their power-on state (a zeroed block: every input
   * masked, waiting for ICW1), the ELCR cleared, the INT output lowered. The devices' wires keep
   * their levels on hardware, but every device on them is reset with the machine too.
   */
  reset(): void {
    this.state.locked(() => {
      const outputHigh = this.state.get(OUTPUT) !== 0;
      this.state.zero();
      if (outputHigh) this.output.setLevel(false);
    });
  }

  /** Drives IRQ `irq` (0 to 15): `level` is the device's request. IRQ 2 is the slave's INT, and other numbers are nobody's: both are ignored. */
  setIrq(irq: number, level: boolean): void {
    if (!Number.isInteger(irq) || irq < 0 || irq >= PIC_IRQ_COUNT || irq === PIC_CASCADE_IRQ) return;
    this.state.locked(() => {
      this.driveInput(irq >> 3, irq & 7, level);
      this.propagate();
    });
  }

  /** The interrupt line a device on IRQ `irq` drives. */
  line(irq: number): InterruptLine {
    return { setLevel: (asserted) => this.setIrq(irq, asserted) };
  }

  /**
   * The CPU's INTA cycle: the vector of the highest-priority request, with its ISR bit set
   * (unless in AEOI mode) and an edge request's IRR bit cleared, on the master and, for a
   * slave's input, on the slave. Undefined while the output is low: the CPU only runs the
   * cycle for INTR. The master lets a slave answer for an input ICW3 marks as a slave's; the
   * only slave, wired to IR2, answers if its ID names the input, and the data bus floats
   * otherwise. A slave selected without a request of its own (its ID naming an input a
   * device drives) answers IR7 without setting ISR, the data sheet's default for an INTA
   * cycle that finds no request.
   */
  acknowledge(): number | undefined {
    return this.state.locked(() => {
      const level = this.request(MASTER);
      if (level === NONE) return undefined;
      this.interruptAcknowledge(MASTER, level);
      let vector = this.word(MASTER, VECTOR_BASE) | level;
      if (this.isCascadeInput(level)) {
        // The master puts `level` on the cascade lines; only a slave with that ID drives the data bus.
        const slaveLevel = this.request(SLAVE);
        if ((this.word(SLAVE, ICW3) & 7) !== level) vector = FLOATING_BUS;
        else if (slaveLevel === NONE) vector = this.word(SLAVE, VECTOR_BASE) | NO_REQUEST_LEVEL;
        else {
          this.interruptAcknowledge(SLAVE, slaveLevel);
          vector = this.word(SLAVE, VECTOR_BASE) | slaveLevel;
        }
      }
      this.propagate();
      return vector;
    });
  }

  private chipPorts(chip: number): BusDevice {
    return {
      read: (offset, data) => this.readBytes(offset, data, PIC_PORT_COUNT, (port) => this.readPort(chip, port)),
      write: (offset, data) =>
        this.writeBytes(offset, data, PIC_PORT_COUNT, (port, value) => (port === PIC_COMMAND ? this.writeCommand(chip, value) : this.writeData(chip, value))),
    };
  }

  /**
   * Accesses as the ISA bus makes them: a byte cycle per byte, at ascending ports, under the
   * lock; then the cascade and the output follow the new state (a poll read changes it too).
   */
  private readBytes(offset: number, data: Uint8Array, ports: number, register: (port: number) => number): void {
    this.state.locked(() => {
      for (let i = 0; i < data.length; i++) data[i] = offset + i < ports ? register(offset + i) : 0xff;
      this.propagate();
    });
  }

  private writeBytes(offset: number, data: Uint8Array, ports: number, register: (port: number, value: number) => void): void {
    this.state.locked(() => {
      for (let i = 0; i < data.length; i++) if (offset + i < ports) register(offset + i, data[i] as number);
      this.propagate();
    });
  }

  /** A read: a pending poll answers first (the data sheet's "next RD pulse", at either port); else IRR or ISR as OCW3 chose, or IMR. */
  private readPort(chip: number, port: number): number {
    const flags = this.word(chip, FLAGS);
    if (flags & POLL) {
      this.setWord(chip, FLAGS, flags & ~POLL);
      const level = this.request(chip);
      if (level === NONE) return 0;
      this.interruptAcknowledge(chip, level);
      return POLL_INTERRUPT | level;
    }
    if (port === PIC_DATA) return this.imr(chip);
    return this.word(chip, flags & READ_ISR ? ISR : IRR);
  }

  /** A command-port write: ICW1 if bit 4 is set, else OCW3 if bit 3 is, else OCW2. */
  private writeCommand(chip: number, value: number): void {
    if (value & ICW1_INIT) this.writeIcw1(chip, value);
    else if (value & OCW3) this.writeOcw3(chip, value);
    else this.writeOcw2(chip, value);
  }

  /**
   * ICW1 starts the initialization sequence over and, per the data sheet: resets the edge
   * sense circuit (an edge input must rise again to request, so IRR keeps only the level
   * inputs' requests), clears IMR, gives IR7 the lowest priority, sets the slave address
   * (ICW3) to 7, clears special mask mode and selects IRR for reads, and zeroes ICW4's
   * functions until an ICW4 sets them. It also clears ISR, a pending poll and rotation in
   * AEOI mode, as QEMU does; the data sheet is silent on them, and an ISR bit kept
   * from before would block its level and every lower one until an EOI nobody sends.
   */
  private writeIcw1(chip: number, value: number): void {
    this.setWord(chip, ICW1, value & (ICW1_LTIM | ICW1_SNGL | ICW1_IC4));
    this.setWord(chip, IRR, this.word(chip, INPUTS) & this.levelTriggered(chip));
    this.setWord(chip, ISR, 0);
    this.setWord(chip, IMR_INVERTED, 0xff);
    this.setWord(chip, HIGHEST, 0);
    this.setWord(chip, ICW3, 7);
    this.setWord(chip, ICW4, 0);
    this.setWord(chip, FLAGS, 0);
    this.setWord(chip, INIT_STEP, EXPECT_ICW2);
  }

  /** A data-port write: the next ICW of the sequence, or OCW1 (IMR) once it is done. */
  private writeData(chip: number, value: number): void {
    const icw1 = this.word(chip, ICW1);
    switch (this.word(chip, INIT_STEP)) {
      case READY:
        this.setWord(chip, IMR_INVERTED, value ^ 0xff);
        return;
      case EXPECT_ICW2:
        this.setWord(chip, VECTOR_BASE, value & 0xf8);
        this.setWord(chip, INIT_STEP, icw1 & ICW1_SNGL ? (icw1 & ICW1_IC4 ? EXPECT_ICW4 : READY) : EXPECT_ICW3);
        return;
      case EXPECT_ICW3:
        this.setWord(chip, ICW3, value);
        this.setWord(chip, INIT_STEP, icw1 & ICW1_IC4 ? EXPECT_ICW4 : READY);
        return;
      case EXPECT_ICW4:
        this.setWord(chip, ICW4, value & ICW4_BITS);
        this.setWord(chip, INIT_STEP, READY);
        return;
    }
  }

  /** OCW2: the EOI and rotation commands, by bits 7:5 (R, SL, EOI); the level is bits 2:0. */
  private writeOcw2(chip: number, value: number): void {
    const level = value & 7;
    switch (value & OCW2_COMMAND) {
      case OCW2_ROTATE_AEOI_CLEAR:
      case OCW2_ROTATE_AEOI_SET: {
        const flags = this.word(chip, FLAGS);
        this.setWord(chip, FLAGS, value & OCW2_ROTATE ? flags | ROTATE_IN_AEOI : flags & ~ROTATE_IN_AEOI);
        return;
      }
      case OCW2_EOI:
      case OCW2_ROTATE_EOI: {
        // The highest-priority ISR bit; in special mask mode a masked level's bit stays set
        // (the data sheet: only a specific EOI clears it then).
        const isr = this.word(chip, ISR);
        const served = this.highestLevel(chip, this.word(chip, FLAGS) & SPECIAL_MASK ? isr & ~this.imr(chip) : isr);
        if (served === NONE) return;
        this.setWord(chip, ISR, isr & ~(1 << served));
        if (value & OCW2_ROTATE) this.setLowestPriority(chip, served);
        return;
      }
      case OCW2_SPECIFIC_EOI:
        this.setWord(chip, ISR, this.word(chip, ISR) & ~(1 << level));
        return;
      case OCW2_ROTATE_SPECIFIC_EOI:
        this.setWord(chip, ISR, this.word(chip, ISR) & ~(1 << level));
        this.setLowestPriority(chip, level);
        return;
      case OCW2_SET_PRIORITY:
        this.setLowestPriority(chip, level);
        return;
      // OCW2_NOP: no operation.
    }
  }

  /** OCW3: each field acts only when its enable bit is set (P; RR for RIS; ESMM for SMM). */
  private writeOcw3(chip: number, value: number): void {
    let flags = this.word(chip, FLAGS);
    if (value & OCW3_P) flags |= POLL;
    if (value & OCW3_RR) flags = value & OCW3_RIS ? flags | READ_ISR : flags & ~READ_ISR;
    if (value & OCW3_ESMM) flags = value & OCW3_SMM ? flags | SPECIAL_MASK : flags & ~SPECIAL_MASK;
    this.setWord(chip, FLAGS, flags);
  }

  /** An ELCR byte, but for the IRQs a PC keeps edge-triggered; a new trigger mode applies at once (a level input's IRR follows its wire). */
  private writeElcr(port: number, value: number): void {
    const shift = 8 * port;
    this.state.set(ELCR, (this.state.get(ELCR) & ~(0xff << shift)) | ((value << shift) & ELCR_WRITABLE));
    for (const chip of [MASTER, SLAVE]) {
      const level = this.levelTriggered(chip);
      this.setWord(chip, IRR, (this.word(chip, IRR) & ~level) | (this.word(chip, INPUTS) & level));
    }
  }

  /**
   * Input `input` of `chip` goes to `level`: a level-triggered input's IRR bit follows it, an
   * edge-triggered one's is set on a rising edge and stays set until acknowledged.
   */
  private driveInput(chip: number, input: number, level: boolean): void {
    const bit = 1 << input;
    const inputs = this.word(chip, INPUTS);
    this.setWord(chip, INPUTS, level ? inputs | bit : inputs & ~bit);
    const irr = this.word(chip, IRR);
    if (this.levelTriggered(chip) & bit) this.setWord(chip, IRR, level ? irr | bit : irr & ~bit);
    else if (level && !(inputs & bit)) this.setWord(chip, IRR, irr | bit);
  }

  /**
   * After every change: the slave's INT drives the master's IR2, and the master's INT the
   * output. IR2 follows the slave's INT as a level, whatever its trigger mode: the slave
   * raises INT exactly while it has a request for the CPU and drops it once that request is
   * in service, so a level neither misses a second request that keeps INT high across an
   * INTA cycle (AEOI, special mask mode), as an edge latch held high would, nor keeps one
   * the slave no longer has (masked, or polled), which would end as a spurious IRQ 15.
   */
  private propagate(): void {
    const irr = this.word(MASTER, IRR);
    this.setWord(MASTER, IRR, this.request(SLAVE) !== NONE ? irr | CASCADE_BIT : irr & ~CASCADE_BIT);
    const output = this.request(MASTER) !== NONE ? 1 : 0;
    if (output === this.state.get(OUTPUT)) return;
    this.state.set(OUTPUT, output);
    this.output.setLevel(output === 1);
  }

  /**
   * The level `chip` interrupts for, or NONE: its highest-priority unmasked request, if that
   * outranks every level in service. In special mask mode a masked level in service blocks
   * nothing; in special fully nested mode a slave's input in service does not block itself,
   * so that the slave's own higher-priority requests reach the CPU.
   */
  private request(chip: number): number {
    const imr = this.imr(chip);
    const level = this.highestLevel(chip, this.word(chip, IRR) & ~imr);
    if (level === NONE) return NONE;
    const isr = this.word(chip, ISR);
    const inService = this.highestLevel(chip, this.word(chip, FLAGS) & SPECIAL_MASK ? isr & ~imr : isr);
    if (inService === NONE || this.priority(chip, level) < this.priority(chip, inService)) return level;
    const nested = chip === MASTER && this.word(MASTER, ICW4) & ICW4_SFNM && level === inService && this.isCascadeInput(level);
    return nested ? level : NONE;
  }

  /** The INTA cycle's (or a poll's) bookkeeping for `level`: ISR set, or in AEOI mode the EOI done at once (rotating if asked); an edge request consumed. */
  private interruptAcknowledge(chip: number, level: number): void {
    const bit = 1 << level;
    if (!(this.levelTriggered(chip) & bit)) this.setWord(chip, IRR, this.word(chip, IRR) & ~bit);
    if (!(this.word(chip, ICW4) & ICW4_AEOI)) this.setWord(chip, ISR, this.word(chip, ISR) | bit);
    else if (this.word(chip, FLAGS) & ROTATE_IN_AEOI) this.setLowestPriority(chip, level);
  }

  /** Whether the master's input `level` has a slave, by ICW3 (none in single mode). */
  private isCascadeInput(level: number): boolean {
    return !(this.word(MASTER, ICW1) & ICW1_SNGL) && (this.word(MASTER, ICW3) & (1 << level)) !== 0;
  }

  /** The highest-priority level among the bits of `mask` (0 to 0xff), or NONE. */
  private highestLevel(chip: number, mask: number): number {
    const highest = this.word(chip, HIGHEST);
    for (let rank = 0; rank < 8; rank++) {
      const level = (highest + rank) & 7;
      if (mask & (1 << level)) return level;
    }
    return NONE;
  }

  /** `level`'s rank, 0 the highest priority and 7 the lowest. */
  private priority(chip: number, level: number): number {
    return (level - this.word(chip, HIGHEST)) & 7;
  }

  private setLowestPriority(chip: number, level: number): void {
    this.setWord(chip, HIGHEST, (level + 1) & 7);
  }

  /** The inputs of `chip` that are level-triggered: all with LTIM, else those the ELCR names. */
  private levelTriggered(chip: number): number {
    return this.word(chip, ICW1) & ICW1_LTIM ? 0xff : (this.state.get(ELCR) >> (8 * chip)) & 0xff;
  }

  private imr(chip: number): number {
    return this.word(chip, IMR_INVERTED) ^ 0xff;
  }

  private word(chip: number, word: number): number {
    return this.state.get(chip * CHIP_WORDS + word);
  }

  private setWord(chip: number, word: number, value: number): void {
    this.state.set(chip * CHIP_WORDS + word, value);
  }
}
