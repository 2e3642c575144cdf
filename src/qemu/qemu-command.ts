/**
 * tsvisor qemu (and tsvisor-qemu): QEMU's command line -> a config document -> the VmSpec
 * the TOML front end would make of it -> a VM, ending as QEMU ends. Every error a user can
 * meet is printed as QEMU prints it, `tsvisor-qemu: <option>: <what>`, with status 1.
 */
import { resolve } from 'node:path';
import { writeSync } from 'node:fs';
import { ConfigError } from '../config/config-error.js';
import { ConfigSource } from '../config/config-source.js';
import { vmSpecOf } from '../config/load-config.js';
import type { VmSpec } from '../config/vm-spec.js';
import { ExitStatus, TsvisorError } from '../errors.js';
import { DEVICE_HELP, devicePropertiesHelp } from './device-options.js';
import { qemuHelp, versionLine } from './help.js';
import type { QemuMachine } from './invocation.js';
import { monitorPlanOf } from './monitor-plan.js';
import { parseCommandLine } from './parse-command-line.js';
import { configToml } from './print-config.js';
import { PROGRAM, QEMU_ERROR_STATUS, QemuError } from './qemu-error.js';
import { qemuConfig, type QemuConfig } from './to-config.js';

const STDOUT = 1;
const STDERR = 2;
/** What ConfigErrors and warnings name as their file. */
const COMMAND_LINE = 'the QEMU command line';

const MACHINE_HELP = 'Supported machines are:\npc                   Standard PC (i440FX + PIIX, 1996) (alias of pc-i440fx-7.2)\npc-i440fx-7.2        Standard PC (i440FX + PIIX, 1996) (default)\nq35                  Standard PC (Q35 + ICH9, 2009) (alias of pc-q35-7.2)\npc-q35-7.2           Standard PC (Q35 + ICH9, 2009)\n';

/** Whether the arguments ask only for text (help, version, a list, the config), for which no vCPU thread is worth starting. */
export function asksForTextOnly(args: readonly string[]): boolean {
  return args.some((arg) => /^--?(h|help|version|print-config)$/.test(arg) || /^(help|\?)$|,help$/.test(arg));
}

export async function qemuCommand(args: readonly string[]): Promise<number> {
  try {
    return await qemu(args);
  } catch (error) {
    if (!(error instanceof TsvisorError)) throw error;
    writeSync(STDERR, `${PROGRAM}: ${error.message}\n`);
    return QEMU_ERROR_STATUS;
  }
}

async function qemu(args: readonly string[]): Promise<number> {
  const invocation = parseCommandLine(args);
  switch (invocation.action) {
    case 'help':
      writeSync(STDOUT, qemuHelp());
      return ExitStatus.ok;
    case 'version':
      writeSync(STDOUT, `${versionLine()}\n`);
      return ExitStatus.ok;
    case 'device-help':
      writeSync(STDOUT, invocation.device === undefined ? DEVICE_HELP : devicePropertiesHelp(invocation.device));
      return ExitStatus.ok;
    case 'machine-help':
      writeSync(STDOUT, MACHINE_HELP);
      return ExitStatus.ok;
    case 'run':
      break;
  }
  const { machine } = invocation;
  const config = qemuConfig(machine);
  const spec = qemuVmSpec(config);
  if (invocation.printConfig) {
    writeSync(STDOUT, configToml(config.document, configHeader(args, machine)));
    return ExitStatus.ok;
  }
  const monitors = monitorPlanOf(machine);
  for (const warning of spec.warnings) writeSync(STDERR, `${PROGRAM}: warning: ${warning}\n`);
  const { runQemuMachine } = await import('./run-qemu.js');
  return runQemuMachine(spec, machine, monitors);
}

/** The VmSpec of a QEMU command line's document, by the config readers; their errors name the option that set the key. */
export function qemuVmSpec(config: QemuConfig): VmSpec {
  const source = new ConfigSource(COMMAND_LINE, resolve(COMMAND_LINE), config.document as ConfigSource['document'], { values: new Map(), keys: new Map() });
  try {
    return vmSpecOf(source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new QemuError(optionFor(config.optionOf, error.keyPath), `${error.problem} ${error.fix}`);
  }
}

/** The option that set `keyPath` or the nearest key above it. */
function optionFor(optionOf: ReadonlyMap<string, string>, keyPath: string | undefined): string | undefined {
  for (let path = keyPath ?? ''; path; path = path.slice(0, Math.max(path.lastIndexOf('.'), path.lastIndexOf('['), 0))) {
    const option = optionOf.get(path);
    if (option !== undefined) return option;
  }
  return undefined;
}

/** The comment atop --print-config's output: where it came from, and how to run it with the same console. */
function configHeader(args: readonly string[], machine: QemuMachine): string[] {
  const { spec } = machine.serial;
  const serial =
    spec.backend === 'stdio' ? '' : spec.backend === 'file' ? ` --serial ${spec.path}` : spec.backend === 'null' ? ' --serial /dev/null' : ` --serial FILE (tsvisor run puts COM1 on the terminal or in a file, not on a ${spec.backend})`;
  return [
    `tsvisor's config for: ${PROGRAM} ${args.filter((arg) => arg !== '--print-config' && arg !== '-print-config').map(shellWord).join(' ')}`,
    `Run it with: tsvisor run <this file>${serial}`,
    '[tsvisor] holds tsvisor\'s own keys (see README.md, "Configs"); AxVisor ignores it.',
  ];
}

/**
 * An argument as a shell reads it back: bare when it holds only plain characters, else quoted
 * (-initrd 'a.bin arg,b.bin'); one with control characters in bash's $'...', so that the
 * comment it goes in stays one line.
 */
function shellWord(arg: string): string {
  if (/^[\w@%+=:,./-]+$/.test(arg)) return arg;
  if (!/[\x00-\x1f\x7f]/.test(arg)) return `'${arg.replaceAll("'", "'\\''")}'`;
  const escaped = arg.replace(/[\\'\x00-\x1f\x7f]/g, (char) => (char === '\\' || char === "'" ? `\\${char}` : `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return `$'${escaped}'`;
}
