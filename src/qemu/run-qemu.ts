/**
 * Runs the VM a QEMU command line describes and ends as QEMU ends: status 0 when the guest
 * powers off (without -no-shutdown), (v << 1) | 1 when it writes v to an isa-debug-exit, 0 on
 * SIGINT or SIGTERM ("terminating on signal N"), and 0 when the guest resets with -no-reboot
 * (without it, the guest boots again). Where QEMU would go on (it pauses a guest KVM cannot
 * run, or idles with every vCPU halted for good), tsvisor cannot, and ends with status 1 saying why.
 */
import { writeSync } from 'node:fs';
import { openCharBackend, type CharBackend } from '../chardev/char-backend.js';
import { ChardevOpenError } from '../chardev/chardev-open-error.js';
import type { VmSpec } from '../config/vm-spec.js';
import { ExitStatus } from '../errors.js';
import { exitStatusOf, type VmExit } from '../vmm/vm-exit.js';
import { runVm } from '../cli/run-vm.js';
import type { monitorPlanOf } from './monitor-plan.js';
import { serialError } from './chardev-options.js';
import type { QemuMachine, SerialChardev } from './invocation.js';
import { PROGRAM, QEMU_ERROR_STATUS, QemuError } from './qemu-error.js';

const STDOUT = 1;
const STDERR = 2;
const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

export async function runQemuMachine(spec: VmSpec, machine: QemuMachine, monitors: ReturnType<typeof monitorPlanOf>): Promise<number> {
  const options = {
    ...qemuRunPlan(machine, monitors),
    report: (message: string) => writeSync(STDERR, `${PROGRAM}: ${message}\n`),
  };
  return runVm(spec, options, (exit, vm) => {
    for (const line of vm.guardedRegionSummary()) writeSync(STDERR, `${PROGRAM}: ${line}\n`);
    return qemuExitStatus(exit, machine);
  });
}

/** How a QEMU machine runs: COM1's character device, its monitors and the terminal, and its lifecycle. */
export function qemuRunPlan(machine: QemuMachine, monitors: ReturnType<typeof monitorPlanOf>) {
  return {
    openSerial: () => openSerial(machine.serial),
    serialLabel: machine.serial.label,
    monitors: monitors.plan,
    terminal: monitors.terminal,
    ...(machine.uuid ? { uuid: machine.uuid } : {}),
    ...qemuLifecycle(machine),
  };
}

/**
 * How QEMU's machine lives: -S holds the vCPUs until cont; a PC resets on a triple fault and
 * QEMU boots the guest again unless told -no-reboot; -no-shutdown turns the guest's power-off
 * into a stop, QEMU staying until quit, a signal or system_reset.
 */
function qemuLifecycle(machine: QemuMachine) {
  return {
    startPaused: machine.startPaused,
    onGuestReset: machine.noReboot ? 'exit' : 'reset',
    onGuestPowerOff: machine.noShutdown ? 'pause' : 'exit',
  } as const;
}

/** QEMU's status for how the VM ended, with what QEMU (or tsvisor, where it differs) says on stderr. */
function qemuExitStatus(exit: VmExit, machine: QemuMachine): number {
  switch (exit.kind) {
    case 'power-off':
    case 'debug-exit':
      return exitStatusOf(exit);
    case 'stopped':
      if (exit.signal) writeSync(STDERR, `${PROGRAM}: terminating on signal ${SIGNAL_NUMBERS[exit.signal]}\n`);
      return ExitStatus.ok;
    case 'guest-failure': {
      // A triple fault ends the run only with -no-reboot (qemuLifecycle): the guest reset the machine, and QEMU ends with status 0.
      const reset = exit.tripleFault === true && machine.noReboot;
      const after = reset ? 'With -no-reboot QEMU ends here, with status 0.' : 'QEMU would stop the guest and wait; tsvisor ends with status 1.';
      writeSync(STDERR, `${PROGRAM}: ${exit.message} ${after}\n${exit.registers ? `${exit.registers}\n` : ''}`);
      return reset ? ExitStatus.ok : QEMU_ERROR_STATUS;
    }
  }
}

/** COM1's character device, opened; what QEMU prints on the way (a pty's name, a server's wait) printed as QEMU prints it, and its failures in QEMU's words. */
async function openSerial(serial: SerialChardev): Promise<CharBackend> {
  const info = (line: string) => writeSync(STDERR, `${PROGRAM}: ${serial.option === undefined ? '' : `${serial.option}: `}info: ${line}\n`);
  try {
    return await openCharBackend(serial.spec, serial.label, { print: (line) => writeSync(STDOUT, `${line}\n`), info });
  } catch (error) {
    if (!(error instanceof ChardevOpenError)) throw error;
    throw serial.serialArgument !== undefined ? serialError(serial.serialArgument, error.message) : new QemuError(serial.option, error.message);
  }
}
