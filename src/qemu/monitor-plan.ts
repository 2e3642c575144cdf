/**
 * The monitors a QEMU command line asks for, as the run sets them up: one QMP server
 * (tsvisor's serves several clients on one socket, so a second -qmp is refused), human
 * monitors on sockets, and what the terminal is: COM1 alone, COM1 behind the console mux with
 * the monitor (mon:stdio, -nographic's default), or the monitor alone (-monitor stdio).
 */
import type { TerminalUse } from '../cli/run-vm.js';
import type { MonitorPlan } from '../monitor/vm-monitors.js';
import type { QmpEndpoint } from '../qmp/endpoint.js';
import type { MonitorRequest, QemuMachine } from './invocation.js';
import { QemuError } from './qemu-error.js';

/** What QEMU prints for Ctrl-A x on the console mux. */
export const QEMU_MUX_QUIT = 'QEMU: Terminated\n\r';

export function monitorPlanOf(machine: QemuMachine): { readonly plan: MonitorPlan; readonly terminal: TerminalUse } {
  const qmp = machine.monitors.filter((monitor) => monitor.mode === 'control').map(qmpEndpointOf);
  if (qmp.length > 1) throw new QemuError(machine.monitors.filter((monitor) => monitor.mode === 'control')[1]?.option, 'tsvisor serves one QMP socket per VM (it takes several clients at once). Keep one -qmp.');
  const human = machine.monitors.filter((monitor) => monitor.mode === 'readline');
  const humanSockets = human.flatMap(({ option, channel }) => (channel.kind === 'socket' ? [{ option, address: channel.address, server: channel.server, wait: channel.wait }] : []));
  const onMux = human.some(({ channel }) => channel.kind === 'mux');
  const alone = human.some(({ channel }) => channel.kind === 'stdio');
  let terminal: TerminalUse = { kind: 'console' };
  if (machine.serial.mux) terminal = { kind: 'mux', quitText: QEMU_MUX_QUIT, monitor: onMux };
  else if (alone) terminal = { kind: 'monitor' };
  return { plan: { qmp: qmp[0], humanSockets }, terminal };
}

/** A QMP monitor's endpoint: tsvisor serves QMP on a socket only. */
function qmpEndpointOf(monitor: MonitorRequest): QmpEndpoint {
  const { channel } = monitor;
  if (channel.kind !== 'socket') throw new QemuError(monitor.option, 'tsvisor serves QMP on a socket only, not on the terminal. Use -qmp unix:PATH,server=on,wait=off.');
  const { server, wait } = channel;
  return channel.address.kind === 'unix'
    ? { transport: 'unix', path: channel.address.path, server, wait }
    : { transport: 'tcp', host: channel.address.host, port: channel.address.port, server, wait };
}
