/**
 * The APIC bus: carries interrupt messages from the IO APIC and from each Local APIC's ICR to
 * the Local APICs they are addressed to (Intel SDM vol. 3A, 10.6.2 "Determining IPI
 * destination" and 10.6.1 for the delivery modes). Every thread that can raise an interrupt
 * has one, over the shared LocalApicStates.
 *
 * Fixed and lowest-priority interrupts go into the target's IRR; NMI and INIT raise its
 * attention word; a start-up IPI is latched there with its vector, and the target acts on it
 * if it waits for one. Then the target is notified (kicked out of KVM_RUN, or woken from HLT) unless it is
 * the caller's own vCPU, which looks at its APIC before it next enters the guest.
 *
 * Every message reports how many APICs accepted it, and one that none accepted (none
 * addressed, the addressed ones disabled, or a fixed vector below 16, which the receiver
 * only records as an error) is counted in LocalApicStates' undelivered messages: whatever
 * its source, it is not lost without a trace. The IO APIC sets Remote IRR from that count.
 */
import { DeliveryMode, type ApicMessage, type ApicMessageSink } from './apic-message.js';
import { ATTENTION_ILLEGAL_VECTOR, ATTENTION_INIT, ATTENTION_NMI, DFR_MODEL_MASK, ENABLE_GLOBAL, type LocalApicStates } from './local-apic-state.js';
import {
  SHORTHAND_ALL_EXCLUDING_SELF,
  SHORTHAND_ALL_INCLUDING_SELF,
  SHORTHAND_SELF,
  type InterprocessorInterrupts,
} from './local-apic.js';

/** The xAPIC broadcast destination, in both destination modes (SDM 10.6.2.1, 10.6.2.2). */
const BROADCAST = 0xff;
/** DFR model bits for the cluster model. */
const DFR_CLUSTER = 0;

export interface ApicBusEffects {
  /** vCPU `id` has something new in its APIC: make it look before it next runs the guest. */
  notify(id: number): void;
  /**
   * Brackets the sending of an NMI, INIT or start-up IPI, which may end a halt with interrupts
   * disabled or a wait for a SIPI: the VMM holds the VM alive meanwhile (VmControl.holdAlive),
   * and each target, once the event is raised, is revived (counted as able to run until it has
   * looked at the event) before it is notified.
   */
  beforeEvent(): void;
  revive(id: number): void;
  afterEvent(): void;
}

export class ApicBus implements ApicMessageSink, InterprocessorInterrupts {
  private readonly targets: number[] = [];

  constructor(
    private readonly states: LocalApicStates,
    private readonly effects: ApicBusEffects,
  ) {}

  /** A message with a destination (from the IO APIC, or an ICR without shorthand): how many APICs accepted it. */
  send(message: ApicMessage): number {
    this.collectDestination(message);
    return this.deliver(message);
  }

  sendIpi(source: number, message: ApicMessage, shorthand: number): void {
    const targets = this.targets;
    targets.length = 0;
    switch (shorthand) {
      case SHORTHAND_SELF:
        targets.push(source);
        break;
      case SHORTHAND_ALL_INCLUDING_SELF:
      case SHORTHAND_ALL_EXCLUDING_SELF:
        for (let id = 0, plugged = this.states.pluggedCount(); id < plugged; id++) {
          // A globally disabled APIC is not on the bus, for shorthands as for destinations
          // (collectDestination): without this an all-excluding-self INIT or SIPI would reach it.
          if (!(this.states.enableBits(id) & ENABLE_GLOBAL)) continue;
          if (id !== source || shorthand === SHORTHAND_ALL_INCLUDING_SELF) targets.push(id);
        }
        break;
      default:
        this.collectDestination(message);
    }
    this.deliver(message);
  }

  /** The vCPUs whose APIC the destination names (SDM 10.6.2.1 physical, 10.6.2.2 logical flat and cluster). */
  private collectDestination(message: ApicMessage): void {
    const targets = this.targets;
    targets.length = 0;
    const states = this.states;
    // vCPUs from pluggedCount up are not plugged in: not on the bus.
    for (let id = 0, plugged = states.pluggedCount(); id < plugged; id++) {
      if (!(states.enableBits(id) & ENABLE_GLOBAL)) continue; // globally disabled: not on the bus
      if (message.destination === BROADCAST) {
        targets.push(id);
      } else if (!message.logical) {
        if (states.apicId(id) === message.destination) targets.push(id);
      } else {
        const logicalId = states.logicalDestination(id) >>> 24;
        if ((states.destinationFormat(id) & DFR_MODEL_MASK) === DFR_CLUSTER) {
          // Cluster: bits 7:4 name the cluster, bits 3:0 the members within it.
          if (logicalId >> 4 === message.destination >> 4 && logicalId & message.destination & 0xf) targets.push(id);
        } else if (logicalId & message.destination) {
          targets.push(id);
        }
      }
    }
  }

  /** Delivers `message` to the collected targets; returns how many accepted it, counting it when none did. */
  private deliver(message: ApicMessage): number {
    const accepted = this.deliverToTargets(message);
    if (accepted === 0) this.states.countUndelivered();
    return accepted;
  }

  private deliverToTargets(message: ApicMessage): number {
    const { states, effects, targets } = this;
    let accepted = 0;
    switch (message.deliveryMode) {
      case DeliveryMode.fixed:
        for (const id of targets) accepted += this.accept(id, message);
        return accepted;
      case DeliveryMode.lowestPriority: {
        // The processor with the lowest priority takes it; ties go to the lowest APIC ID.
        let chosen = -1;
        for (const id of targets) {
          if (!states.accepting(id)) continue;
          const priority = states.processorPriority(id) & 0xf0;
          const chosenPriority = chosen < 0 ? 0 : states.processorPriority(chosen) & 0xf0;
          // Targets come in vCPU order, which is APIC ID order only until software rewrites an
          // ID: compare the IDs themselves to break a tie, as documented above.
          if (chosen < 0 || priority < chosenPriority || (priority === chosenPriority && states.apicId(id) < states.apicId(chosen))) chosen = id;
        }
        return chosen >= 0 ? this.accept(chosen, message) : 0;
      }
      // A software-disabled APIC still takes NMI, INIT and start-up (SDM 10.4.7.2): every
      // target on the bus accepts them.
      case DeliveryMode.nmi:
        this.raiseEvents(ATTENTION_NMI);
        return targets.length;
      case DeliveryMode.init:
        this.raiseEvents(ATTENTION_INIT);
        return targets.length;
      case DeliveryMode.startup:
        effects.beforeEvent();
        for (const id of targets) {
          states.latchStartup(id, message.vector);
          effects.revive(id);
          effects.notify(id);
        }
        effects.afterEvent();
        return targets.length;
      default:
        // SMI, ExtINT and the reserved modes: there is no SMM and no 8259 to answer them.
        return 0;
    }
  }

  /** A fixed or lowest-priority interrupt for APIC `id`: 1 when its vector went into IRR, else 0. */
  private accept(id: number, message: ApicMessage): number {
    if (!this.states.accepting(id)) return 0; // a software-disabled APIC drops fixed interrupts (SDM 10.4.7.2)
    if (message.vector < 16) {
      // The receiver sets ESR bit 6 (SDM 10.5.3) and takes nothing: no EOI will follow.
      this.states.raise(id, ATTENTION_ILLEGAL_VECTOR);
      this.effects.notify(id);
      return 0;
    }
    this.states.request(id, message.vector, message.levelTriggered);
    this.effects.notify(id);
    return 1;
  }

  private raiseEvents(attention: number): void {
    const { effects, states } = this;
    effects.beforeEvent();
    for (const id of this.targets) {
      states.raise(id, attention);
      effects.revive(id);
      effects.notify(id);
    }
    effects.afterEvent();
  }
}
