/**
 * What a vCPU acts on before it next enters the guest, decided from its Local APIC's state and
 * its own readiness alone: a pure function, the shape of crosvm's get_pending_irqs, so that the
 * policy is tested without KVM (test/vmm/injection.test.ts).
 *
 * Events before vectors. INIT (SDM vol. 3A, 10.6.1, 9.1) resets the processor: the bootstrap
 * processor (IA32_APIC_BASE.BSP) then runs from the reset vector, any other waits for a
 * start-up IPI; what INIT finds pending (an NMI, a vector) is gone with the reset. A start-up
 * IPI starts a processor that waits for one (8.4.4.1), including one that INIT made wait in this
 * same step, so INIT followed at once by SIPI loses nothing; a SIPI to any other is ignored. An
 * NMI reaches a running processor whatever RFLAGS.IF says. A vector in IRR above the processor
 * priority is injected when KVM says the guest can take one (kvm_run.ready_for_interrupt_injection
 * and IF); otherwise KVM is asked for an interrupt window.
 */
import { ATTENTION_INIT, ATTENTION_NMI, ATTENTION_STARTUP } from '../../devices/local-apic-state.js';

/** What the vCPU's Local APIC holds, as the vCPU took it. */
export interface ApicSnapshot {
  /** The ATTENTION_NMI, ATTENTION_INIT and ATTENTION_STARTUP bits taken from the APIC. */
  readonly events: number;
  /** The latched start-up IPI's vector, meaningful with ATTENTION_STARTUP. */
  readonly startupVector: number;
  /** The vector the APIC would deliver now (IRR above the processor priority), or -1. */
  readonly deliverableVector: number;
  /** A vector waits in IRR only because the task priority (TPR, CR8) holds it back. */
  readonly heldByTaskPriority: boolean;
}

/** Where the vCPU stands. */
export interface VcpuReadiness {
  /** It waits for a start-up IPI (an application processor from power-on, or after INIT). */
  readonly waitingForStartup: boolean;
  /** IA32_APIC_BASE.BSP: after INIT it runs from the reset vector. */
  readonly bootstrapProcessor: boolean;
  /** kvm_run.ready_for_interrupt_injection: KVM holds no injected vector and may take one. */
  readonly readyForInjection: boolean;
  /** kvm_run.if_flag: RFLAGS.IF. */
  readonly interruptFlag: boolean;
}

export interface Pending {
  /** Reset the processor (INIT): its Local APIC, its registers, its pending events. */
  readonly init: boolean;
  /** Wait for a start-up IPI from now on (INIT without the BSP flag, and no SIPI with it). */
  readonly waitForStartup: boolean;
  /** Start in real mode at this SIPI vector, or -1. */
  readonly startupVector: number;
  /** Inject an NMI (KVM_NMI). */
  readonly nmi: boolean;
  /** Inject this vector now (KVM_INTERRUPT), or -1. */
  readonly vector: number;
  /** Ask KVM to exit when the guest can take an interrupt (a deliverable vector must wait). */
  readonly requestWindow: boolean;
  /** Look at CR8 again soon: a guest that lowers it does not exit on every host. */
  readonly pollTaskPriority: boolean;
}

export function decidePending(apic: ApicSnapshot, vcpu: VcpuReadiness): Pending {
  const init = (apic.events & ATTENTION_INIT) !== 0;
  const waiting = init ? !vcpu.bootstrapProcessor : vcpu.waitingForStartup;
  const startupVector = waiting && apic.events & ATTENTION_STARTUP ? apic.startupVector : -1;
  // A processor that was running before this step and still is: only it takes NMIs and vectors.
  const running = !init && !waiting;
  const deliverable = running ? apic.deliverableVector : -1;
  const inject = deliverable >= 0 && vcpu.readyForInjection && vcpu.interruptFlag;
  return {
    init,
    waitForStartup: waiting && startupVector < 0,
    startupVector,
    nmi: running && (apic.events & ATTENTION_NMI) !== 0,
    vector: inject ? deliverable : -1,
    requestWindow: deliverable >= 0 && !inject,
    pollTaskPriority: running && deliverable < 0 && apic.heldByTaskPriority,
  };
}
