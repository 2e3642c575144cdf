/**
 * One VM run in this process, as both front ends make it (tsvisor run, tsvisor qemu): the VM
 * built from its spec, its QMP server when one is asked for (holding the guest until the first
 * client, with wait=on), COM1's input from stdin, SIGINT and SIGTERM stopping it, and
 * everything released on every way out. The front end turns the run's end into what it
 * prints and its exit status (`finish`), while the VM still exists (its statistics).
 */
import { closeSync } from 'node:fs';
import type { VmSpec } from '../config/vm-spec.js';
import type { QmpEndpoint } from '../qmp/endpoint.js';
import { startVmQmp, type VmQmp } from '../qmp/run-with-vm.js';
import { ConsoleInput } from '../vmm/console-input.js';
import { Vm, type VmOptions } from '../vmm/vm.js';
import type { VmExit } from '../vmm/vm-exit.js';

const STDOUT = 1;

export interface VmRunOptions extends VmOptions {
  /** COM1's input from stdin (the console); off where QEMU's serial is not stdio. */
  readonly consoleInput: boolean;
  /** Where QMP is served, and where COM1 goes as query-chardev names it. */
  readonly qmp: { readonly endpoint: QmpEndpoint; readonly serial: 'stdio' | 'file' } | undefined;
  /** The vCPUs wait, stopped, until a monitor's cont (QEMU's -S). */
  readonly startPaused?: boolean;
}

/** Runs the VM `spec` describes to its end; `serialOutputFd`, unless it is stdout, is closed at the end. */
export async function runVm(spec: VmSpec, options: VmRunOptions, finish: (exit: VmExit, vm: Vm) => number): Promise<number> {
  let vm: Vm | undefined;
  let input: ConsoleInput | undefined;
  let qmp: VmQmp | undefined;
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    qmp?.stopWaiting();
    void vm?.stop(signal);
  };
  process.on('SIGINT', onSignal).on('SIGTERM', onSignal);
  try {
    vm = await Vm.create(spec, options);
    if (options.qmp) {
      qmp = await startVmQmp(options.qmp.endpoint, vm, { serial: options.qmp.serial, report: options.report });
      await qmp.waitForClient();
    }
    if (options.consoleInput) input = new ConsoleInput(vm.console, process.stdin);
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
    if (options.serialOutputFd !== STDOUT) closeSync(options.serialOutputFd);
  }
}
