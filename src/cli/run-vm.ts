/**
 * One VM run in this process, as the front ends make it (tsvisor run, tsvisor qemu, a domain's
 * XML): COM1's character device opened when the VM is about to be made (src/chardev/; a server
 * with wait=on holds the guest until its first client), the VM built from its spec, its
 * monitors (src/monitor/vm-monitors.ts: QMP and the human monitor, whose servers with wait=on
 * hold the guest too), the terminal (COM1's input, behind the console mux's Ctrl-A commands
 * where asked, or the human monitor's alone), SIGINT and SIGTERM stopping it, and everything
 * released on every way out. The front end turns the run's end into what it prints and its
 * exit status (`finish`), while the VM still exists (its statistics).
 */
import { writeSync } from 'node:fs';
import { openCharBackend, type CharBackend } from '../chardev/char-backend.js';
import { ConsoleMux } from '../chardev/mux.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { HumanMonitor } from '../monitor/human-monitor.js';
import { startVmMonitors, type MonitorPlan, type VmMonitors } from '../monitor/vm-monitors.js';
import type { DomainView } from '../qmp/machine.js';
import { ConsoleInput } from '../vmm/console-input.js';
import { Vm, type VmOptions } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';

const STDOUT = 1;

/** How the terminal is used besides COM1's own backend. */
export type TerminalUse =
  /** COM1's backend alone (its input, if it has any, is the guest's). */
  | { readonly kind: 'console' }
  /** COM1 on the terminal behind the console mux: Ctrl-A x says `quitText` and ends the VM; Ctrl-A c reaches the human monitor when `monitor`. */
  | { readonly kind: 'mux'; readonly quitText: string; readonly monitor: boolean }
  /** The human monitor alone on the terminal (-monitor stdio); COM1 is elsewhere. */
  | { readonly kind: 'monitor' };

export interface VmRunOptions extends Omit<VmOptions, 'serialOutput'> {
  /** Opens COM1's character device; its failures end the run before the VM is made. */
  readonly openSerial: () => Promise<CharBackend>;
  /** COM1's label, as query-chardev names it (serial0, or a -chardev's id). */
  readonly serialLabel: string;
  readonly monitors: MonitorPlan;
  readonly terminal: TerminalUse;
  /** The vCPUs wait, stopped, until a monitor's cont (QEMU's -S). */
  readonly startPaused?: boolean;
  /** The VM as a libvirt domain, for tsvisor domain's operations over QMP. */
  readonly domain?: (vm: Vm) => DomainView;
  /** What query-uuid answers (QEMU's -uuid, a domain's <uuid>). */
  readonly uuid?: string;
}

/** Runs the VM `spec` describes to its end; COM1's character device is closed on every way out. */
export async function runVm(spec: VmSpec, options: VmRunOptions, finish: (exit: VmExit, vm: Vm) => number): Promise<number> {
  let vm: Vm | undefined;
  let serial: CharBackend | undefined;
  let terminal: CharBackend | undefined;
  let input: ConsoleInput | undefined;
  let mux: ConsoleMux | undefined;
  let monitors: VmMonitors | undefined;
  let signalled = false;
  let stopWaiting!: () => void;
  const stopped = new Promise<void>((resolve) => (stopWaiting = resolve));
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    signalled = true;
    stopWaiting();
    monitors?.stopWaiting();
    void vm?.stop(signal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    serial = await options.openSerial();
    const backend = serial;
    vm = await Vm.create(spec, { ...options, serialOutput: backend.writer });
    const created = vm;
    await Promise.race([backend.ready(), stopped]);
    // Stopped while COM1's server waited for its client: no monitor to wait for in turn, the run ends at once.
    if (!signalled) {
      const serialChardev = { label: options.serialLabel, frontendOpen: true, get filename() { return backend.filename; } };
      monitors = await startVmMonitors(vm, options.monitors, {
        serial: serialChardev,
        report: options.report,
        ...(options.domain ? { domain: options.domain } : {}),
        ...(options.uuid ? { uuid: options.uuid } : {}),
      });
      await monitors.waitForClients();
    }
    const writeTerminal = (text: string) => void writeSync(STDOUT, text);
    const session = (): HumanMonitor | undefined => monitors?.humanSession(writeTerminal);
    if (options.terminal.kind === 'mux' && backend.input) {
      const monitor = options.terminal.monitor ? session() : undefined;
      mux = new ConsoleMux(backend.input, { ...(monitor ? { monitor } : {}), write: writeTerminal, quit: () => void created.stop(), quitText: options.terminal.quitText });
      input = new ConsoleInput(vm.console, mux.console);
    } else {
      if (backend.input) input = new ConsoleInput(vm.console, backend.input);
      if (options.terminal.kind === 'monitor') {
        terminal = await openCharBackend({ backend: 'stdio', signal: true }, 'compat_monitor0');
        const monitor = session();
        if (monitor && terminal.input) {
          terminal.input.on('data', (bytes: Buffer) => monitor.input(bytes));
          monitor.greet();
        }
      }
    }
    const paused = options.startPaused ?? false;
    const run = vm.run({ paused });
    monitors?.started(run, { paused });
    const exit = await run;
    monitors?.ended(exit);
    return finish(exit, vm);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    input?.close();
    mux?.close();
    process.stdin.destroy();
    await monitors?.close();
    await vm?.destroy();
    terminal?.close();
    serial?.close();
  }
}
