/**
 * tsvisor qmp: one QMP command to a running VM (tsvisor's, or QEMU's): prints the reply's
 * "return" as JSON, or the error as `tsvisor qmp: <class>: <desc>` with status 1; with
 * --events, the events that come before the reply too, a line each.
 */
import { writeSync } from 'node:fs';
import { ExitStatus } from '../errors.js';
import { QmpClient, type QmpAddress } from '../qmp/client.js';
import { formatJson } from '../qmp/json-format.js';
import { JsonLexer } from '../qmp/json-lexer.js';
import { JsonParseError, parseMessage } from '../qmp/json-parser.js';
import { JsonStreamer } from '../qmp/json-streamer.js';
import { isJsonObject, type JsonObject, type JsonValue } from '../qmp/json-value.js';
import { QMP_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { UsageError } from './usage-error.js';

/** The status when the command itself fails (QEMU's error reply); 2 stays for bad input. */
const COMMAND_FAILED = 1;

export async function qmpCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandOptions('qmp', args, {
    help: { type: 'boolean', short: 'h' },
    events: { type: 'boolean' },
  });
  if (values.help) {
    writeSync(1, QMP_HELP);
    return ExitStatus.ok;
  }
  if (positionals.length < 2 || positionals.length > 3) {
    throw new UsageError(`tsvisor qmp takes a socket, a command and optionally its arguments as a JSON object, but ${positionals.length} were given. Usage: tsvisor qmp <socket> <command> [json-arguments]; see \`tsvisor qmp --help\`.`);
  }
  const [socket, command, argumentsText] = positionals as [string, string, string | undefined];
  const address = parseAddress(socket);
  const commandArguments = argumentsText === undefined ? undefined : parseArguments(argumentsText);
  const client = await QmpClient.connect(address, (event) => {
    if (values.events) writeSync(1, `${formatJson(event)}\n`);
  });
  try {
    const reply = await client.execute(command, commandArguments);
    if ('error' in reply) {
      writeSync(2, `tsvisor qmp: ${reply.error.class}: ${reply.error.desc}\n`);
      return COMMAND_FAILED;
    }
    writeSync(1, `${formatJson(reply.return)}\n`);
    return ExitStatus.ok;
  } finally {
    client.close();
  }
}

/** A path, unix:PATH or tcp:HOST:PORT. */
export function parseAddress(text: string): QmpAddress {
  if (text.startsWith('tcp:')) {
    const match = /^tcp:(.*):(\d+)$/.exec(text);
    if (!match || Number(match[2]) > 65535) throw new UsageError(`'${text}' is not a TCP address: give it as tcp:HOST:PORT, for example tcp:127.0.0.1:4444.`);
    return { transport: 'tcp', host: (match[1] as string).replace(/^\[(.*)\]$/, '$1') || 'localhost', port: Number(match[2]) };
  }
  return { transport: 'unix', path: text.startsWith('unix:') ? text.slice('unix:'.length).split(',')[0] as string : text };
}

function parseArguments(text: string): JsonObject {
  let value: JsonValue | undefined;
  let problem: string | undefined;
  const streamer = new JsonStreamer((streamed) => {
    if (value !== undefined || problem !== undefined) {
      problem ??= 'there is more after the object';
      return;
    }
    if ('error' in streamed) problem = streamed.error;
    else {
      try {
        value = parseMessage(streamed.tokens);
      } catch (error) {
        if (!(error instanceof JsonParseError)) throw error;
        problem = error.message;
      }
    }
  });
  const lexer = new JsonLexer((token) => streamer.token(token.kind, token.text));
  lexer.feed(Buffer.from(`${text}\n`));
  if (problem === undefined && !isJsonObject(value ?? null)) problem = value === undefined ? 'it is incomplete' : 'it is not an object';
  if (problem !== undefined) {
    throw new UsageError(`the arguments '${text}' are not a JSON object (${problem}). Give them as one object, for example '{"command-line": "info status"}'.`);
  }
  return value as JsonObject;
}
