/**
 * The monitors beside a running tsvisor VM: one QMP server (tsvisor run --qmp, -qmp, -mon
 * mode=control), human monitors on sockets (-monitor, -mon), and human monitor sessions on the
 * terminal (-monitor stdio, or behind Ctrl-A c on the console mux). All share one machine and
 * one MachineActions, so that a `stop` typed in any of them emits STOP to every QMP client.
 * QEMU's waits for a first client (wait=on) hold the guest; the events for what the guest did
 * and for the way the VM ended go to the QMP clients.
 */
import { tsvisorVersion } from '../cli/version.js';
import type { SocketAddress } from '../qemu/invocation.js';
import { endpointFilename, type QmpEndpoint } from '../qmp/endpoint.js';
import type { JsonValue } from '../qmp/json-value.js';
import { startQmpServer, type QmpService } from '../qmp/listen.js';
import { MachineActions } from '../qmp/machine-actions.js';
import type { Chardev, DomainView } from '../qmp/machine.js';
import { qmpVersion } from '../qmp/version.js';
import { shutdownEventOf, VmMachine } from '../qmp/vm-adapter.js';
import type { Vm } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';
import { HumanMonitor } from './human-monitor.js';
import { startMonitorSocket, type MonitorSocket } from './monitor-socket.js';

/** A human monitor on a socket, as the command line asked for it. */
export interface HumanSocketRequest {
  /** The option as written, for messages: "-monitor unix:/tmp/m,server=on". */
  readonly option: string;
  readonly address: SocketAddress;
  readonly server: boolean;
  readonly wait: boolean;
}

export interface MonitorPlan {
  readonly qmp: QmpEndpoint | undefined;
  readonly humanSockets: readonly HumanSocketRequest[];
}

export interface VmMonitorOptions {
  /** COM1's character device, as query-chardev reports it. */
  readonly serial: Chardev;
  readonly report: (message: string) => void;
  /** The VM as a libvirt domain, for tsvisor domain's operations. */
  readonly domain?: (vm: Vm) => DomainView;
  /** What query-uuid answers (QEMU's -uuid, a domain's <uuid>); all zeros without one. */
  readonly uuid?: string;
}

export interface VmMonitors {
  /** A human monitor session on the terminal: its output goes through `write`; quit ends the VM. */
  humanSession(write: (text: string) => void): HumanMonitor;
  /** Resolves once every server with wait=on has its first client (or stopWaiting was called). */
  waitForClients(): Promise<void>;
  stopWaiting(): void;
  /** The VM's run has begun (`paused`: -S, its vCPUs wait for cont). */
  started(run: Promise<VmExit>, options?: { readonly paused?: boolean }): void;
  ended(exit: VmExit): void;
  close(): Promise<void>;
}

export async function startVmMonitors(vm: Vm, plan: MonitorPlan, options: VmMonitorOptions): Promise<VmMonitors> {
  const { qmp } = plan;
  const chardevs = [...(qmp ? [{ label: 'compat_monitor0', filename: endpointFilename(qmp), frontendOpen: true }] : []), options.serial];
  const machine = new VmMachine(vm, chardevs, options.domain?.(vm), options.uuid);
  const version = qmpVersion(tsvisorVersion());
  let service: QmpService | undefined;
  const emit = (event: string, data?: JsonValue) => service?.server.emitEvent(event, data);
  const sockets: MonitorSocket[] = [];
  try {
    if (qmp) service = await startQmpServer(qmp, machine, { version, report: options.report });
    const actions = service?.server.actions ?? new MachineActions(machine, emit);
    for (const request of plan.humanSockets) {
      if (request.server && request.wait) options.report(`${request.option}: info: QEMU waiting for connection on: disconnected:${socketName(request.address)},server=on`);
      sockets.push(await startMonitorSocket(request.address, request.server, { option: request.option, actions, version }));
    }
    watchGuest(vm, machine, emit);
    let stopWaiting!: () => void;
    const stopped = new Promise<void>((resolve) => (stopWaiting = resolve));
    const humanWaits = plan.humanSockets.flatMap((request, index) => (request.server && request.wait ? [(sockets[index] as MonitorSocket).firstClient] : []));
    const qmpService = service;
    return {
      humanSession: (write) => new HumanMonitor({ actions, version, write }),
      waitForClients: async () => {
        const qmpWait = qmpService && qmp?.server && qmp.wait ? [qmpService.firstClient] : [];
        // QEMU says the same, as an info line, and waits before it starts the guest.
        if (qmpService && qmpWait.length > 0) options.report(`waiting for a QMP connection on ${endpointFilename(qmpService.endpoint)}`);
        await Promise.race([Promise.all([...humanWaits, ...qmpWait]), stopped]);
      },
      stopWaiting,
      started: (run, startOptions) => machine.started(run, startOptions),
      ended: (exit) => {
        const shutdown = shutdownEventOf(exit);
        if (shutdown) emit('SHUTDOWN', shutdown);
      },
      close: async () => {
        await Promise.all([service?.close(), ...sockets.map((socket) => socket.close())]);
      },
    };
  } catch (error) {
    await Promise.all([service?.close(), ...sockets.map((socket) => socket.close())]);
    throw error;
  }
}

/**
 * What the guest did that the VM took without ending, with QEMU's events for it
 * (qapi/run-state.json, ShutdownCause): a reboot is a RESET; a stop is a SHUTDOWN (or, for a
 * crash, nothing more) and a STOP, the machine then waiting for a reset.
 */
function watchGuest(vm: Vm, machine: VmMachine, emit: (event: string, data?: JsonValue) => void): void {
  vm.onGuestEvent(({ cause, action }) => {
    const reason = cause === 'reset' ? 'guest-reset' : cause === 'power-off' ? 'guest-shutdown' : 'guest-panic';
    if (action === 'reset') {
      if (cause === 'power-off') emit('SHUTDOWN', { guest: true, reason });
      emit('RESET', { guest: true, reason });
      return;
    }
    machine.guestStopped(cause === 'crash' ? 'internal-error' : 'shutdown');
    if (cause !== 'crash') emit('SHUTDOWN', { guest: true, reason });
    emit('STOP');
  });
}

function socketName(address: SocketAddress): string {
  return address.kind === 'unix' ? `unix:${address.path}` : `tcp:${address.host}:${address.port}`;
}
