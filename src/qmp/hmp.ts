/**
 * The human monitor (HMP) behind QMP's human-monitor-command: the commands tsvisor has, each
 * with QEMU 7.2's wording (its help lines, its replies and its errors, measured against it;
 * test/qmp/qemu-transcripts.json). Lines end in "\r\n", as QEMU's monitor writes them.
 */
import { formatCpuDump } from '../monitor/cpu-dump.js';
import type { MachineActions } from './machine-actions.js';
import { QmpError } from './qmp-error.js';
import type { QmpVersion } from './version.js';

export interface HmpContext {
  readonly actions: MachineActions;
  readonly version: QmpVersion;
  /** The CPU the command is about (human-monitor-command's cpu-index, or the first). */
  readonly cpuIndex: number;
  /** Runs `action` once the command's reply has gone out (quit). */
  readonly afterReply: (action: () => void) => void;
}

interface HmpCommand {
  /** As QEMU's table names it: the command and its short forms, "stop|s". */
  readonly names: string;
  readonly params: string;
  readonly help: string;
  readonly run?: (context: HmpContext) => string | Promise<string>;
  /** The command takes a word after it (help, info): it reads the rest of the line itself. */
  readonly withArgument?: (rest: string, context: HmpContext) => string | Promise<string>;
}

const INFO_COMMANDS: readonly HmpCommand[] = [
  {
    names: 'cpus',
    params: '',
    help: 'show infos for each CPU',
    run: ({ actions, cpuIndex }) =>
      actions.machine
        .vcpuThreadIds()
        .map((tid, index) => `${index === cpuIndex ? '*' : ' '} CPU #${index}: thread_id=${tid}\r\n`)
        .join(''),
  },
  {
    names: 'registers',
    params: '[-a|vcpu]',
    help: "show the cpu registers (-a: show register info for all cpus; vcpu: specific vCPU to query; show the current CPU's registers if no argument is specified)",
    withArgument: (rest, context) => registers(rest, context),
  },
  { names: 'status', params: '', help: 'show the current VM status (running|paused)', run: ({ actions }) => `VM status: ${statusText(actions.machine.runState())}\r\n` },
  { names: 'version', params: '', help: 'show the version of QEMU', run: ({ version }) => `${version.qemu.major}.${version.qemu.minor}.${version.qemu.micro}${version.package}\r\n` },
];

const COMMANDS: readonly HmpCommand[] = [
  {
    names: 'cont|c',
    params: '',
    help: 'resume emulation',
    run: ({ actions }) => {
      actions.cont();
      return '';
    },
  },
  { names: 'help|?', params: '[cmd]', help: 'show the help', withArgument: (rest) => help(rest) },
  { names: 'info', params: '[subcommand]', help: 'show various information about the system state', withArgument: (rest, context) => info(rest, context) },
  {
    names: 'quit|q',
    params: '',
    help: 'quit the emulator',
    run: ({ actions, afterReply }) => {
      actions.announceQuit();
      afterReply(() => actions.machine.quit());
      return '';
    },
  },
  {
    names: 'stop|s',
    params: '',
    help: 'stop emulation',
    run: async ({ actions }) => {
      await actions.stop();
      return '';
    },
  },
  {
    names: 'system_powerdown',
    params: '',
    help: 'send system power down event',
    run: ({ actions }) => {
      actions.powerdown();
      return '';
    },
  },
  {
    names: 'system_reset',
    params: '',
    help: 'reset the system',
    run: async ({ actions }) => {
      await actions.reset();
      return '';
    },
  },
];

/** Runs one HMP command line and returns what the monitor printed. */
export async function runHmp(line: string, context: HmpContext): Promise<string> {
  const [name, rest] = splitWord(line);
  if (name === '') return '';
  const command = find(COMMANDS, name);
  if (!command) return unknown(name);
  try {
    if (command.withArgument) return await command.withArgument(rest, context);
    return (await noArguments(command, name, rest)) ?? (await (command.run as NonNullable<HmpCommand['run']>)(context));
  } catch (error) {
    // HMP prints a command's error where QMP would return it (monitor/hmp.c, hmp_handle_error).
    if (error instanceof QmpError) return `Error: ${error.message}\r\n`;
    throw error;
  }
}

async function info(rest: string, context: HmpContext): Promise<string> {
  const [name, more] = splitWord(rest);
  if (name === '') return helpLines(INFO_COMMANDS, 'info ');
  const command = find(INFO_COMMANDS, name);
  if (!command) return unknown(`info ${name}`);
  if (command.withArgument) return command.withArgument(more, context);
  return noArguments(command, `info ${name}`, more) ?? (command.run as NonNullable<HmpCommand['run']>)(context);
}

/** info registers: the current CPU's, every CPU's (-a), or one CPU's by number (an HMP expression: decimal or 0x hex). */
async function registers(rest: string, { actions, cpuIndex }: HmpContext): Promise<string> {
  const [word, more] = splitWord(rest);
  const tryHelp = 'Try "help info registers" for more information\r\n';
  if (more.trim() !== '') return `registers: extraneous characters at the end of line\r\n${tryHelp}`;
  const count = actions.machine.vcpuThreadIds().length;
  let indices: number[];
  if (word === '') indices = [cpuIndex];
  else if (word === '-a') indices = Array.from({ length: count }, (_unused, index) => index);
  else {
    const number = /^(0x[0-9a-f]+|\d+)$/i.test(word) ? Number(word) : undefined;
    if (number === undefined) return `invalid char '${word.match(/[^0-9]/)?.[0] ?? word[0]}' in expression\r\n${tryHelp}`;
    if (number >= count) return `CPU#${number} not available\r\n`;
    indices = [number];
  }
  let text = '';
  for (const index of indices) text += formatCpuDump(index, await actions.machine.cpuDump(index));
  return text;
}

function help(rest: string): string {
  const [name, more] = splitWord(rest);
  if (name === '') return helpLines(COMMANDS, '');
  if (name === 'info') {
    const [sub] = splitWord(more);
    if (sub === '') return helpLines(INFO_COMMANDS, 'info ');
    const command = find(INFO_COMMANDS, sub);
    return command ? helpLines([command], 'info ') : unknown(`info ${sub}`);
  }
  const command = find(COMMANDS, name);
  return command ? helpLines([command], '') : unknown(name);
}

/** QEMU's refusal of words after a command that takes none, or undefined when there are none. */
function noArguments(command: HmpCommand, typed: string, rest: string): string | undefined {
  if (rest.trim() === '') return undefined;
  return `${command.names}: extraneous characters at the end of line\r\nTry "help ${typed}" for more information\r\n`;
}

function helpLines(commands: readonly HmpCommand[], prefix: string): string {
  return commands.map((command) => `${prefix}${command.names} ${command.params} -- ${command.help}\r\n`).join('');
}

const unknown = (name: string) => `unknown command: '${name}'\r\n`;
const find = (commands: readonly HmpCommand[], name: string) => commands.find((command) => command.names.split('|').includes(name));

function splitWord(text: string): [string, string] {
  const trimmed = text.replace(/^\s+/, '');
  const end = trimmed.search(/\s/);
  return end < 0 ? [trimmed, ''] : [trimmed.slice(0, end), trimmed.slice(end)];
}

/** HMP's words for a run state (monitor/hmp-cmds.c, hmp_info_status). */
function statusText(state: string): string {
  if (state === 'running') return 'running';
  if (state === 'paused') return 'paused';
  return `paused (${state})`;
}
