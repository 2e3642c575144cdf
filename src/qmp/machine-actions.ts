/**
 * What QMP and HMP commands do to the machine, with the events QEMU emits for each
 * (qapi/run-state.json; the order measured against QEMU 7.2: the event goes out before the
 * command's reply). Shared by both monitors, so that `stop` typed in HMP emits STOP as the QMP
 * command does.
 */
import type { JsonValue } from './json-value.js';
import type { QmpMachine } from './machine.js';
import { genericError } from './qmp-error.js';

export type EmitEvent = (event: string, data?: JsonValue) => void;

export class MachineActions {
  constructor(
    readonly machine: QmpMachine,
    private readonly emit: EmitEvent,
  ) {}

  /** A VM that is not running (paused, or not started) stays as it is, without an event, as in QEMU. */
  async stop(): Promise<void> {
    if (this.machine.runState() !== 'running') return;
    await this.machine.pause();
    this.emit('STOP');
  }

  /** A machine that shut down (-no-shutdown) must be reset first, as QEMU says; a running one stays as it is. */
  cont(): void {
    const state = this.machine.runState();
    if (state === 'shutdown' || state === 'internal-error') throw genericError('Resetting the Virtual Machine is required');
    if (state !== 'paused' && state !== 'prelaunch') return;
    this.machine.resume();
    this.emit('RESUME');
  }

  async reset(): Promise<void> {
    await this.machine.reset();
    this.emit('RESET', { guest: false, reason: 'host-qmp-system-reset' });
  }

  /** QEMU with a guest that has no ACPI power button emits POWERDOWN and nothing else happens; tsvisor's guests have none. */
  powerdown(): void {
    this.emit('POWERDOWN');
    this.machine.pressPowerButton();
  }

  /** Tells the clients; the caller ends the machine once the command's reply is out. */
  announceQuit(): void {
    this.emit('SHUTDOWN', { guest: false, reason: 'host-qmp-quit' });
  }
}
