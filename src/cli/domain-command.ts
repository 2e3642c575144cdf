/**
 * tsvisor domain <socket> <operation>: libvirt's domain operations (virsh's words and exit
 * statuses) against a running tsvisor VM, over its QMP socket. suspend, resume, reset,
 * shutdown and destroy are QMP's stop, cont, system_reset, system_powerdown and quit;
 * dominfo, dumpxml, setvcpus and setmem are tsvisor's x-tsvisor-* commands (docs/qmp.md).
 */
import { writeSync } from 'node:fs';
import { ExitStatus } from '../errors.js';
import { scaledKibibytes, UnitError } from '../libvirt/units.js';
import { QmpClient } from '../qmp/client.js';
import type { JsonObject, JsonValue } from '../qmp/json-value.js';
import { DOMAIN_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { parseAddress } from './qmp-command.js';
import { UsageError } from './usage-error.js';

/** virsh's status for a failed operation. */
const FAILED = 1;

/** The QMP command each plain operation is, and what virsh says when it is done. */
const SIMPLE: Record<string, { readonly command: string; readonly done: (name: string) => string }> = {
  suspend: { command: 'stop', done: (name) => `Domain '${name}' suspended` },
  resume: { command: 'cont', done: (name) => `Domain '${name}' resumed` },
  reset: { command: 'system_reset', done: (name) => `Domain '${name}' was reset` },
  shutdown: { command: 'system_powerdown', done: (name) => `Domain '${name}' is being shutdown` },
  destroy: { command: 'quit', done: (name) => `Domain '${name}' destroyed` },
};

export async function domainCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandOptions('domain', args, {
    help: { type: 'boolean', short: 'h' },
    live: { type: 'boolean' },
    config: { type: 'boolean' },
    maximum: { type: 'boolean' },
    current: { type: 'boolean' },
    inactive: { type: 'boolean' },
  });
  if (values.help) {
    writeSync(1, DOMAIN_HELP);
    return ExitStatus.ok;
  }
  const [socket, operation, value, ...extra] = positionals;
  if (socket === undefined || operation === undefined || extra.length > 0) {
    throw new UsageError('Usage: tsvisor domain <socket> <operation> [value] [--live|--config|--maximum]; see `tsvisor domain --help`.');
  }
  const needsValue = operation === 'setvcpus' || operation === 'setmem';
  if (needsValue !== (value !== undefined)) throw new UsageError(needsValue ? `${operation} takes a value: tsvisor domain <socket> ${operation} ${operation === 'setvcpus' ? 'COUNT' : 'SIZE'}.` : `${operation} takes no value.`);
  if (!(operation in SIMPLE) && !['dominfo', 'dumpxml', 'setvcpus', 'setmem'].includes(operation)) {
    throw new UsageError(`'${operation}' is not a domain operation tsvisor has: dominfo, dumpxml, suspend, resume, reset, shutdown, destroy, setvcpus, setmem.`);
  }
  // virsh: without --live or --config, a running domain's live state changes (--current).
  const live = values.live === true || (values.config !== true && values.maximum !== true);
  const config = values.config === true;
  if (values.maximum && !config) return fail('Option --config is required by option --maximum');

  const client = await QmpClient.connect(parseAddress(socket));
  try {
    const run = async (command: string, commandArgs?: JsonObject): Promise<JsonValue> => {
      const reply = await client.execute(command, commandArgs);
      if ('error' in reply) throw new OperationFailed(reply.error.desc);
      return reply.return;
    };
    const domain = (inactive = false) => run('x-tsvisor-query-domain', new Map([['inactive', inactive]])) as Promise<JsonObject>;
    const name = async () => {
      const reply = (await run('query-name')) as JsonObject;
      return String(reply.get('name') ?? '');
    };
    const simple = SIMPLE[operation];
    if (simple) {
      const domainName = await name();
      await run(simple.command);
      writeSync(1, `${simple.done(domainName)}\n\n`);
    } else if (operation === 'dumpxml') {
      writeSync(1, `${String((await domain(values.inactive === true)).get('xml'))}\n`); // virsh ends it with an empty line
    } else if (operation === 'dominfo') {
      writeSync(1, await dominfo(run, await domain()));
    } else if (operation === 'setvcpus') {
      const count = /^\d+$/.test(value as string) ? BigInt(value as string) : undefined;
      if (count === undefined || count < 1n) return fail(`Invalid number of virtual CPUs`);
      await run('x-tsvisor-set-vcpus', new Map<string, JsonValue>([['count', count], ['live', live && !values.maximum], ['config', config], ['maximum', values.maximum === true]]));
      writeSync(1, '\n');
    } else {
      await run('x-tsvisor-set-memory', new Map<string, JsonValue>([['kib', memoryKib(value as string)], ['live', live], ['config', config]]));
      writeSync(1, '\n');
    }
    return ExitStatus.ok;
  } catch (error) {
    if (error instanceof OperationFailed) return fail(error.message);
    throw error;
  } finally {
    client.close();
  }
}

class OperationFailed extends Error {}

function fail(message: string): number {
  writeSync(2, `error: ${message}\n\n`);
  return FAILED;
}

/** setmem's size: a scaled integer, KiB without a unit (virsh's --size). */
function memoryKib(text: string): bigint {
  const match = /^(\d+)([A-Za-z]*)$/.exec(text);
  try {
    if (!match) throw new UnitError(`Invalid value '${text}'`);
    return scaledKibibytes(match[1] as string, match[2] || undefined, 2n ** 64n - 1n);
  } catch (error) {
    if (!(error instanceof UnitError)) throw error;
    throw new OperationFailed(`invalid argument: ${error.message}`);
  }
}

/** virsh dominfo's lines: a label padded to 16 columns, then the value. */
async function dominfo(run: (command: string) => Promise<JsonValue>, domain: JsonObject): Promise<string> {
  // One command at a time: a QMP client's replies come in order, each to the command before it.
  const status = (await run('query-status')) as JsonObject;
  const name = (await run('query-name')) as JsonObject;
  const uuid = (await run('query-uuid')) as JsonObject;
  const state = String(status?.get('status'));
  const seconds = Number(domain.get('cpu-time-ns')) / 1e9;
  const lines: [string, string][] = [
    ['Id', String(domain.get('id'))],
    ['Name', String(name?.get('name') ?? '')],
    ['UUID', String(uuid?.get('UUID') ?? '')],
    ['OS Type', 'hvm'],
    ['State', state === 'running' ? 'running' : state === 'shutdown' ? 'shut off' : 'paused'],
    ['CPU(s)', String(domain.get('vcpus'))],
    ['CPU time', `${seconds.toFixed(1)}s`],
    ['Max memory', `${domain.get('max-memory-kib')} KiB`],
    ['Used memory', `${domain.get('used-memory-kib')} KiB`],
    ['Persistent', 'no'],
    ['Autostart', 'disable'],
    ['Managed save', 'no'],
    ['Security model', 'none'],
    ['Security DOI', '0'],
  ];
  return `${lines.map(([label, text]) => `${`${label}:`.padEnd(16)}${text}`).join('\n')}\n\n`;
}
