/**
 * The interrupt wiring one thread sees: its APIC bus over every vCPU's shared Local APIC
 * state, and the IO APIC (when the VM has one) whose input pins the devices drive. Each
 * vCPU thread builds one, and so does the main thread, which feeds COM1 its input.
 *
 * An interrupt for another vCPU kicks it (out of KVM_RUN, or awake from HLT); one for the
 * calling thread's own vCPU needs nothing, since a vCPU looks at its APIC before it next
 * enters the guest.
 *
 * What a Local APIC tells the IO APIC goes through here too: the EOI of a level-triggered
 * interrupt, and that the APIC now accepts interrupts, so that a level pin asserted before
 * any APIC could take it is delivered once one can (the IO APIC leaves Remote IRR clear when
 * nobody accepted its message).
 */
import type { DeviceSpec } from '../config/vm-spec.js';
import { ApicBus } from '../devices/apic-bus.js';
import { UNCONNECTED_LINE, type InterruptLine } from '../devices/bus-device.js';
import { IoApic, IO_APIC_STATE_WORDS } from '../devices/io-apic.js';
import { LocalApicStates } from '../devices/local-apic-state.js';
import { SharedState } from '../devices/shared-state.js';
import type { VmControl } from './vm-control.js';

/** What the interrupt controllers share between threads, made once per VM. */
export interface InterruptState {
  readonly localApics: SharedArrayBuffer;
  readonly ioApic: SharedArrayBuffer;
}

export function createInterruptState(cpuCount: number): InterruptState {
  return { localApics: LocalApicStates.create(cpuCount), ioApic: new SharedState(IO_APIC_STATE_WORDS).buffer as SharedArrayBuffer };
}

export interface InterruptEffects {
  /** The vCPU this thread runs, or -1 for the main thread. */
  readonly currentVcpu: number;
  /** Makes vCPU `id` look at its APIC now: a kick out of KVM_RUN, or a wake from HLT. */
  readonly kick: (id: number) => void;
  /** The VM's control block: an NMI, INIT or SIPI on its way holds the VM alive (VmControl.holdAlive). */
  readonly control: Pick<VmControl, 'holdAlive' | 'revive' | 'releaseAlive'>;
}

export interface InterruptWiring {
  readonly localApics: LocalApicStates;
  readonly apicBus: ApicBus;
  /** Undefined when the config lists no IO APIC: device interrupt lines then go nowhere. */
  readonly ioApic: IoApic | undefined;
  /** IO APIC input pin `pin`, as a line a device drives. */
  line(pin: number): InterruptLine;
  /** A Local APIC's EOI of level-triggered `vector`, broadcast to the IO APIC (SDM 10.8.5). */
  readonly levelEoi: (vector: number) => void;
  /** A Local APIC became able to accept interrupts: the IO APIC retries its asserted level pins. */
  readonly localApicAccepting: () => void;
}

export function wireInterrupts(cpuCount: number, devices: readonly DeviceSpec[], state: InterruptState, effects: InterruptEffects): InterruptWiring {
  const localApics = new LocalApicStates(cpuCount, state.localApics);
  const apicBus = new ApicBus(localApics, {
    notify: (id) => {
      if (id !== effects.currentVcpu) effects.kick(id);
    },
    beforeEvent: () => effects.control.holdAlive(),
    revive: (id) => effects.control.revive(id),
    afterEvent: () => effects.control.releaseAlive(),
  });
  const ioApic = devices.some((device) => device.kind === 'io-apic')
    ? new IoApic({ state: new SharedState(IO_APIC_STATE_WORDS, state.ioApic), sink: apicBus })
    : undefined;
  return {
    localApics,
    apicBus,
    ioApic,
    line: (pin) => (ioApic ? ioApic.line(pin) : UNCONNECTED_LINE),
    levelEoi: (vector) => ioApic?.endOfInterrupt(vector),
    localApicAccepting: () => ioApic?.retryAssertedLevelPins(),
  };
}
