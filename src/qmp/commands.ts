/**
 * The QMP commands tsvisor has (qapi/*.json in QEMU 7.2 for their arguments and replies), each
 * with its declared parameters, checked before it runs as QEMU checks them.
 */
import type { Parameter } from './arguments.js';
import { DOMAIN_COMMANDS } from './domain-commands.js';
import { runHmp } from './hmp.js';
import type { JsonObject, JsonValue } from './json-value.js';
import type { MachineActions } from './machine-actions.js';
import { genericError } from './qmp-error.js';
import { versionValue, type QmpVersion } from './version.js';

export interface CommandContext {
  readonly actions: MachineActions;
  readonly version: QmpVersion;
  /** Runs `action` once the command's reply has gone out (quit). */
  readonly afterReply: (action: () => void) => void;
}

export interface QmpCommand {
  readonly parameters: readonly Parameter[];
  /** Whether it may be sent with exec-oob: none of tsvisor's may, as none of these may in QEMU. */
  readonly allowOutOfBand?: boolean;
  readonly run: (args: JsonObject, context: CommandContext) => JsonValue | Promise<JsonValue>;
}

const NO_RETURN = {};

/** qmp_capabilities is the monitor's own (server.ts answers it); it is here for its parameters and query-commands. */
export const COMMANDS: ReadonlyMap<string, QmpCommand> = new Map<string, QmpCommand>([
  ['qmp_capabilities', { parameters: [{ name: 'enable', type: { listOf: { oneOf: ['oob'] } }, optional: true }], run: () => NO_RETURN }],
  ['query-status', { parameters: [], run: (_args, { actions }) => queryStatus(actions) }],
  ['stop', { parameters: [], run: async (_args, { actions }) => (await actions.stop(), NO_RETURN) }],
  ['cont', { parameters: [], run: (_args, { actions }) => (actions.cont(), NO_RETURN) }],
  ['system_reset', { parameters: [], run: async (_args, { actions }) => (await actions.reset(), NO_RETURN) }],
  ['system_powerdown', { parameters: [], run: (_args, { actions }) => (actions.powerdown(), NO_RETURN) }],
  [
    'quit',
    {
      parameters: [],
      run: (_args, { actions, afterReply }) => {
        actions.announceQuit();
        afterReply(() => actions.machine.quit());
        return NO_RETURN;
      },
    },
  ],
  ['query-version', { parameters: [], run: (_args, { version }) => versionValue(version) }],
  ['query-commands', { parameters: [], run: () => [...COMMANDS.keys()].map((name) => ({ name })) }],
  ['query-name', { parameters: [], run: (_args, { actions }) => (actions.machine.name === undefined ? {} : { name: actions.machine.name }) }],
  ['query-uuid', { parameters: [], run: (_args, { actions }) => ({ UUID: actions.machine.uuid }) }],
  // tsvisor always runs its guests under KVM.
  ['query-kvm', { parameters: [], run: () => ({ enabled: true, present: true }) }],
  ['query-cpus-fast', { parameters: [], run: (_args, { actions }) => actions.machine.vcpuThreadIds().map(cpuInfo) }],
  [
    'query-chardev',
    {
      parameters: [],
      run: (_args, { actions }) => actions.machine.chardevs().map((chardev) => ({ 'frontend-open': chardev.frontendOpen, filename: chardev.filename, label: chardev.label })),
    },
  ],
  [
    'human-monitor-command',
    {
      parameters: [
        { name: 'command-line', type: 'str' },
        { name: 'cpu-index', type: 'int', optional: true },
      ],
      run: (args, context) => {
        const cpuIndex = args.get('cpu-index') as bigint | undefined;
        const cpuCount = context.actions.machine.vcpuThreadIds().length;
        if (cpuIndex !== undefined && (cpuIndex < 0n || cpuIndex >= BigInt(cpuCount))) throw genericError("Parameter 'cpu-index' expects a CPU number");
        return runHmp(args.get('command-line') as string, { ...context, cpuIndex: Number(cpuIndex ?? 0n) });
      },
    },
  ],
  ...DOMAIN_COMMANDS,
]);

function queryStatus(actions: MachineActions): JsonValue {
  const status = actions.machine.runState();
  return { status, singlestep: false, running: status === 'running' };
}

/**
 * One vCPU as QEMU's query-cpus-fast reports it for a PC with -smp N (7.2 counts the vCPUs as
 * cores of one socket). tsvisor has no QOM tree; the path is the form QEMU's has.
 */
function cpuInfo(threadId: number, index: number): JsonValue {
  return {
    'thread-id': threadId,
    props: { 'core-id': index, 'thread-id': 0, 'socket-id': 0 },
    'qom-path': `/machine/unattached/device[${index}]`,
    'cpu-index': index,
    target: 'x86_64',
  };
}

