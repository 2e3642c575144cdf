/**
 * One VM run in this process, as both front ends make it (tsvisor run, tsvisor qemu): COM1's
 * character device opened when the VM is about to be made (src/chardev/; a server with
 * wait=on holds the guest until its first client), the VM built from its spec, its QMP
 * server when one is asked for (holding the guest until the first client, with wait=on),
 * COM1's input from the character device, SIGINT and SIGTERM stopping it, and everything
 * released on every way out. The front end turns the run's end into what it prints and its
 * exit status (`finish`), while the VM still exists (its statistics).
 */
import type { CharBackend } from '../chardev/char-backend.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { QmpEndpoint } from '../qmp/endpoint.js';
import { startVmQmp, type VmQmp } from '../qmp/run-with-vm.js';
import { ConsoleInput } from '../vmm/console-input.js';
import { Vm, type VmOptions } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';

export interface VmRunOptions extends Omit<VmOptions, 'serialOutput'> {
  /** Opens COM1's character device; its failures end the run before the VM is made. */
  readonly openSerial: () => Promise<CharBackend>;
  /** COM1's label, as query-chardev names it (serial0, or a -chardev's id). */
  readonly serialLabel: string;
  /** Where QMP is served. */
  readonly qmp: { readonly endpoint: QmpEndpoint } | undefined;
  /** The vCPUs wait, stopped, until a monitor's cont (QEMU's -S). */
  readonly startPaused?: boolean;
}

/** Runs the VM `spec` describes to its end; COM1's character device is closed on every way out. */
export async function runVm(spec: VmSpec, options: VmRunOptions, finish: (exit: VmExit, vm: Vm) => number): Promise<number> {
  let vm: Vm | undefined;
  let serial: CharBackend | undefined;
  let input: ConsoleInput | undefined;
  let qmp: VmQmp | undefined;
  let signalled = false;
  let stopWaiting!: () => void;
  const stopped = new Promise<void>((resolve) => (stopWaiting = resolve));
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    signalled = true;
    stopWaiting();
    qmp?.stopWaiting();
    void vm?.stop(signal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    serial = await options.openSerial();
    const backend = serial;
    vm = await Vm.create(spec, { ...options, serialOutput: backend.writer });
    await Promise.race([backend.ready(), stopped]);
    // Stopped while COM1's server waited for its client: no QMP server to wait for in turn, the run ends at once.
    if (options.qmp && !signalled) {
      const serialChardev = { label: options.serialLabel, frontendOpen: true, get filename() { return backend.filename; } };
      qmp = await startVmQmp(options.qmp.endpoint, vm, { serial: serialChardev, report: options.report });
      await qmp.waitForClient();
    }
    if (backend.input) input = new ConsoleInput(vm.console, backend.input);
    const paused = options.startPaused ?? false;
    const run = vm.run({ paused });
    qmp?.started(run, { paused });
    const exit = await run;
    qmp?.ended(exit);
    return finish(exit, vm);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    input?.close();
    process.stdin.destroy();
    await qmp?.close();
    await vm?.destroy();
    serial?.close();
  }
}
