/**
 * The QMP server beside a running tsvisor VM (tsvisor run --qmp, and QEMU's -qmp for the QEMU
 * front end): the VM as its machine, QEMU's wait for a first client before the guest starts,
 * and the SHUTDOWN event for the way the VM ended.
 */
import { tsvisorVersion } from '../cli/version.js';
import type { Vm } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';
import { endpointFilename, type QmpEndpoint } from './endpoint.js';
import type { Chardev } from './machine.js';
import { startQmpServer, type QmpService } from './listen.js';
import { qmpVersion } from './version.js';
import { shutdownEventOf, VmMachine } from './vm-adapter.js';

export interface VmQmpOptions {
  /** COM1's character device, as query-chardev reports it (its filename may change as clients come and go). */
  readonly serial: Chardev;
  readonly report: (message: string) => void;
}

export interface VmQmp {
  readonly service: QmpService;
  /** With wait=on, resolves once a client has connected (or stopWaiting was called); at once otherwise. */
  waitForClient(): Promise<void>;
  /** Gives up waiting for a client (the VM is being stopped). */
  stopWaiting(): void;
  /** The VM's run has begun (`paused`: -S, its vCPUs wait for cont). */
  started(run: Promise<VmExit>, options?: { readonly paused?: boolean }): void;
  ended(exit: VmExit): void;
  close(): Promise<void>;
}

export async function startVmQmp(endpoint: QmpEndpoint, vm: Vm, options: VmQmpOptions): Promise<VmQmp> {
  const machine = new VmMachine(vm, [
    { label: 'compat_monitor0', filename: endpointFilename(endpoint), frontendOpen: true },
    options.serial,
  ]);
  const service = await startQmpServer(endpoint, machine, { version: qmpVersion(tsvisorVersion()), report: options.report });
  // What the guest did that the VM took without ending, with QEMU's events for it
  // (qapi/run-state.json, ShutdownCause): a reboot is a RESET; a stop is a SHUTDOWN (or, for a
  // crash, nothing more) and a STOP, the machine then waiting for a reset.
  vm.onGuestEvent(({ cause, action }) => {
    const reason = cause === 'reset' ? 'guest-reset' : cause === 'power-off' ? 'guest-shutdown' : 'guest-panic';
    if (action === 'reset') {
      if (cause === 'power-off') service.server.emitEvent('SHUTDOWN', { guest: true, reason });
      service.server.emitEvent('RESET', { guest: true, reason });
      return;
    }
    machine.guestStopped(cause === 'crash' ? 'internal-error' : 'shutdown');
    if (cause !== 'crash') service.server.emitEvent('SHUTDOWN', { guest: true, reason });
    service.server.emitEvent('STOP');
  });
  let stopWaiting!: () => void;
  const stopped = new Promise<void>((resolve) => (stopWaiting = resolve));
  return {
    service,
    waitForClient: async () => {
      if (!endpoint.server || !endpoint.wait) return;
      // QEMU says the same, as an info line, and waits before it starts the guest.
      options.report(`waiting for a QMP connection on ${endpointFilename(service.endpoint)}`);
      await Promise.race([service.firstClient, stopped]);
    },
    stopWaiting,
    started: (run, startOptions) => machine.started(run, startOptions),
    ended: (exit) => {
      const shutdown = shutdownEventOf(exit);
      if (shutdown) service.server.emitEvent('SHUTDOWN', shutdown);
    },
    close: () => service.close(),
  };
}
