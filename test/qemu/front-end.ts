/** The QEMU front end without a VM, for tests: a command line's config document, its VmSpec, or the error it ends in. */
import type { VmSpec } from '../../src/config/vm-spec.js';
import type { QemuMachine } from '../../src/qemu/invocation.js';
import { parseCommandLine } from '../../src/qemu/parse-command-line.js';
import { qemuVmSpec } from '../../src/qemu/qemu-command.js';
import { QemuError } from '../../src/qemu/qemu-error.js';
import { qemuConfig, type QemuConfig } from '../../src/qemu/to-config.js';

export function configOf(args: readonly string[]): QemuConfig {
  const invocation = parseCommandLine(args);
  if (invocation.action !== 'run') throw new Error(`expected a run, got ${invocation.action}`);
  return qemuConfig(invocation.machine);
}

export function specOf(args: readonly string[]): VmSpec {
  return qemuVmSpec(configOf(args));
}

/** The message of the QemuError the command line ends in. */
export function errorOf(args: readonly string[]): string {
  try {
    specOf(args);
  } catch (error) {
    if (error instanceof QemuError) return error.message;
    throw error;
  }
  throw new Error('no error');
}

/** The machine a command line parses to (no config, no VmSpec). */
export function machineOf(args: readonly string[]): QemuMachine {
  const invocation = parseCommandLine(args);
  if (invocation.action !== 'run') throw new Error(`expected a run, got ${invocation.action}`);
  return invocation.machine;
}

/** The message of the QemuError parsing the command line ends in. */
export function parseErrorOf(args: readonly string[]): string {
  try {
    parseCommandLine(args);
  } catch (error) {
    if (error instanceof QemuError) return error.message;
    throw error;
  }
  throw new Error(`no error for ${args.join(' ')}`);
}
