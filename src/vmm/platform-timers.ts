/**
 * The platform timer thread: the HPET's comparators (and, with the PIT, its counters) fire
 * here, on a thread of their own, so that no platform timer depends on one vCPU being able to
 * run: a vCPU parked after INIT, halted with interrupts disabled, or busy in a long exit leaves
 * them firing. The thread sleeps on the VM's platform wake word until the earliest deadline; a
 * vCPU that moves a deadline (a register write) wakes it to look again. Interrupts it raises go
 * through the IO APIC and the APIC bus like any device's, kicking their target vCPU.
 */
import { monotonicNanos } from '../host/clock.js';
import type { TimerSource } from './vcpu/timer-sources.js';
import { VmState, type VmControl } from './vm-control.js';

/** Services `timers` at their deadlines until the VM stops. */
export function runPlatformTimers(control: VmControl, timers: TimerSource): void {
  for (;;) {
    const seen = control.platformWakeSequence();
    if (control.vmState === VmState.stopping) return;
    timers.service(monotonicNanos());
    const deadline = timers.nextDeadline();
    if (deadline === Infinity) control.waitForPlatformWake(seen, Infinity);
    else {
      const left = deadline - monotonicNanos();
      if (left > 0) control.waitForPlatformWake(seen, left / 1e6);
    }
  }
}
