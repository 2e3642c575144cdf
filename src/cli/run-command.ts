/** tsvisor run: config -> VmSpec -> Vm -> run -> exit status. */
import { writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import type { CharBackend } from '../chardev/char-backend.js';
import { ChardevOpenError } from '../chardev/chardev-open-error.js';
import { openFileBackend } from '../chardev/file-backend.js';
import { openStdioBackend } from '../chardev/stdio-backend.js';
import type { UnassignedAccess } from '../devices/bus.js';
import { littleEndianValue } from '../devices/bus-device.js';
import { ExitStatus, TsvisorError, hex } from '../errors.js';
import { formatStats } from './format-stats.js';
import { exitStatusOf } from '../vmm/vm-exit.js';
import { RUN_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { UsageError } from './usage-error.js';
import { endpointFilename, parseQmpEndpoint, type QmpEndpoint } from '../qmp/endpoint.js';
import type { DomainConfig } from '../libvirt/domain-config.js';
import { domainRunPlan, tomlDomainView, TSVISOR_MUX_QUIT } from '../libvirt/run-domain.js';
import { loadConfigFile } from './load-vm-spec.js';
import { runVm } from './run-vm.js';

const STDOUT = 1;
const STDERR = 2;

export async function runCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandOptions('run', args, {
    help: { type: 'boolean', short: 'h' },
    serial: { type: 'string' },
    'trace-unassigned': { type: 'boolean' },
    stats: { type: 'boolean' },
    qmp: { type: 'string' },
  });
  if (values.help) {
    writeSync(STDOUT, RUN_HELP);
    return ExitStatus.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      `tsvisor run takes one config file, ${positionals.length === 0 ? 'but none was given' : `but ${positionals.length} were given`}. Usage: tsvisor run <config> (TOML or domain XML); see \`tsvisor run --help\`.`,
    );
  }
  const qmpEndpoint = values.qmp === undefined ? undefined : parseQmpEndpoint(values.qmp);
  const config = loadConfigFile(positionals[0] as string);
  const { spec } = config;
  for (const warning of spec.warnings) writeSync(STDERR, `tsvisor: warning: ${warning}\n`);

  const serialPath = values.serial;
  const report = (message: string) => writeSync(STDERR, `tsvisor: ${message}\n`);
  // On a terminal, COM1 gets QEMU's console: raw input (Ctrl-C still stops tsvisor), Ctrl-A x
  // to quit and Ctrl-A c for the human monitor. Elsewhere (a pipe, a file) the bytes go as they come.
  const onTerminal = serialPath === undefined && isatty(0) && isatty(1);
  const tomlPlan = {
    openSerial: () => Promise.resolve(serialPath === undefined ? openStdioBackend(true, onTerminal) : openSerialFile(serialPath)),
    serialLabel: 'serial0',
    monitors: { qmp: qmpEndpoint, humanSockets: [] },
    terminal: onTerminal ? ({ kind: 'mux', quitText: TSVISOR_MUX_QUIT, monitor: true } as const) : ({ kind: 'console' } as const),
    domain: tomlDomainView,
  };
  const options = {
    ...(config.format === 'toml' ? tomlPlan : domainPlan(config.domain, serialPath, qmpEndpoint)),
    report,
    ...(values['trace-unassigned'] ? { onUnassigned: traceUnassigned } : {}),
    timeStats: values.stats ?? false,
  };
  return runVm(spec, options, (exit, vm) => {
    if (exit.kind === 'guest-failure') {
      writeSync(STDERR, `tsvisor: ${exit.message}\n${exit.registers ? `${exit.registers}\n` : ''}`);
    }
    if (exit.kind === 'stopped' && exit.signal) {
      writeSync(STDERR, `tsvisor: stopped by ${exit.signal}\n`);
      for (const line of exit.stopPoints ?? []) writeSync(STDERR, `tsvisor: ${line}\n`);
    }
    for (const line of vm.guardedRegionSummary()) writeSync(STDERR, `tsvisor: ${line}\n`);
    const stats = vm.stats();
    if (values['trace-unassigned']) {
      const unassigned = (name: string) => stats.devices.find((device) => device.device === name) ?? { reads: 0, writes: 0 };
      const io = unassigned('unassigned I/O ports');
      const mmio = unassigned('unassigned MMIO');
      writeSync(STDERR, `tsvisor: unassigned accesses: I/O ports ${io.reads} reads, ${io.writes} writes; MMIO ${mmio.reads} reads, ${mmio.writes} writes\n`);
    }
    if (values.stats) writeSync(STDERR, formatStats(stats));
    return exitStatusOf(exit);
  });
}

/** A domain's run, with tsvisor run's --serial and --qmp taking the place of its own serial port and QMP socket. */
function domainPlan(domain: DomainConfig, serialPath: string | undefined, qmpEndpoint: QmpEndpoint | undefined) {
  const plan = domainRunPlan(domain);
  // <qemu:env>: the environment QEMU would run in, which is tsvisor's here.
  for (const { name, value } of domain.domain.qemuEnv) process.env[name] = value;
  if (qmpEndpoint && plan.monitors.qmp) throw new UsageError(`${domain.file} opens a QMP socket already (${endpointFilename(plan.monitors.qmp)}, in its <qemu:commandline>): leave --qmp out, or take the -qmp out of the file.`);
  return {
    ...plan,
    ...(serialPath === undefined ? {} : { openSerial: () => Promise.resolve(openSerialFile(serialPath)), terminal: { kind: 'console' } as const }),
    monitors: { ...plan.monitors, qmp: plan.monitors.qmp ?? qmpEndpoint },
  };
}

/** --serial FILE: COM1's output into FILE; its input is still the terminal's (stdin), as it has always been. */
function openSerialFile(path: string): CharBackend {
  try {
    return { ...openFileBackend(path, false), input: process.stdin };
  } catch (error) {
    if (!(error instanceof ChardevOpenError)) throw error;
    throw new TsvisorError(`Cannot open the serial output file ${path} for writing: ${error.message}. Check the folder exists and is writable.`);
  }
}

function traceUnassigned(access: UnassignedAccess): void {
  const where = access.bus === 'I/O port' ? `I/O port ${access.direction} at ${hex(access.address)}` : `MMIO ${access.direction} at ${hex(access.address)}`;
  const bytes = access.data.length === 1 ? '1 byte' : `${access.data.length} bytes`;
  const arrow = access.direction === 'read' ? ' -> ' : ': ';
  writeSync(STDERR, `tsvisor: unassigned ${where}, ${bytes}${arrow}${hex(littleEndianValue(access.data))}\n`);
}
