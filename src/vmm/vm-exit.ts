/** How a VM ends, and the exit status tsvisor gives each ending. */
import { ExitStatus } from '../errors.js';
import { debugExitStatus } from '../devices/debug-exit.js';

export type VmExit =
  /** The guest powered off (ACPI PM1a control, or a KVM shutdown event). */
  | { readonly kind: 'power-off' }
  /** The guest wrote `value` to the debug-exit port. */
  | { readonly kind: 'debug-exit'; readonly value: number }
  /**
   * The guest crashed or stopped in a way it did not choose: `message` says how, `registers`
   * shows where. `tripleFault`: the CPU shut down (KVM_EXIT_SHUTDOWN), which a PC turns into a
   * reset (QEMU reboots such a guest unless told -no-reboot).
   */
  | { readonly kind: 'guest-failure'; readonly message: string; readonly registers: string | undefined; readonly tripleFault?: boolean }
  /** The host stopped the VM (Vm.stop(), or a signal to tsvisor); `stopPoints` say where each vCPU was. */
  | { readonly kind: 'stopped'; readonly signal: 'SIGINT' | 'SIGTERM' | undefined; readonly stopPoints?: readonly string[] };

export function exitStatusOf(exit: VmExit): number {
  switch (exit.kind) {
    case 'power-off':
      return ExitStatus.ok;
    case 'debug-exit':
      return debugExitStatus(exit.value);
    case 'guest-failure':
      return ExitStatus.guestFailure;
    case 'stopped':
      return exit.signal === 'SIGINT' ? ExitStatus.interrupted : exit.signal === 'SIGTERM' ? ExitStatus.terminated : ExitStatus.ok;
  }
}
