/**
 * What travels on the APIC bus between interrupt controllers: the message an IO APIC
 * redirection entry or a Local APIC's ICR sends (Intel SDM vol. 3A, 10.6.1 "Interrupt
 * Command Register"; 82093AA data sheet, 3.2.4 "IOREDTBL"), and the sink that carries it to
 * every Local APIC. Device models depend on these types only, never on the VMM.
 */

/** Delivery modes, ICR / redirection entry bits 10:8. */
export const DeliveryMode = {
  fixed: 0,
  lowestPriority: 1,
  smi: 2,
  nmi: 4,
  init: 5,
  startup: 6,
  extInt: 7,
} as const;

export interface ApicMessage {
  /** The interrupt vector (for SIPI, the start page). */
  readonly vector: number;
  /** One of DeliveryMode. */
  readonly deliveryMode: number;
  /** The destination mode: false for physical (APIC ID), true for logical (LDR under DFR). */
  readonly logical: boolean;
  /** The 8-bit xAPIC destination field. */
  readonly destination: number;
  readonly levelTriggered: boolean;
}

/** Where interrupt messages go: the APIC bus that reaches every vCPU's Local APIC. */
export interface ApicMessageSink {
  /**
   * Delivers `message` and returns how many Local APICs accepted it: 0 when none is addressed,
   * none of those addressed is enabled, or (lowest priority) none of them may take it. The IO
   * APIC sets a level entry's Remote IRR only when this is at least 1 (82093AA 3.2.4 bit 14).
   */
  send(message: ApicMessage): number;
}
