/**
 * A QMP request: the checks QEMU makes on the message before it looks for the command
 * (qapi/qmp-dispatch.c, qmp_dispatch_check_obj; its errors measured against QEMU 7.2). QEMU
 * visits the members in its hash table's order, tsvisor in the order they were sent: a request
 * with two faults may be told about the other one first.
 */
import { genericError, QmpError } from './qmp-error.js';
import { isJsonObject, type JsonObject, type JsonValue } from './json-value.js';

export interface QmpRequest {
  readonly command: string;
  readonly arguments: JsonObject;
  /** Sent with "exec-oob" (out-of-band) rather than "execute". */
  readonly outOfBand: boolean;
  /** The request's id, echoed in its reply; undefined when it has none. */
  readonly id: JsonValue | undefined;
}

/** A request that is not one: the error to answer, with the id to echo when the request had one. */
export class RequestError extends Error {
  override name = 'RequestError';
  constructor(
    readonly error: QmpError,
    readonly id: JsonValue | undefined,
  ) {
    super(error.message);
  }
}

export function readRequest(message: JsonValue, outOfBandEnabled: boolean): QmpRequest {
  if (!isJsonObject(message)) throw new RequestError(genericError('QMP input must be a JSON object'), undefined);
  const id = message.get('id');
  const fail = (desc: string) => new RequestError(genericError(desc), id);
  for (const [member, value] of message) {
    if (member === 'execute' || (member === 'exec-oob' && outOfBandEnabled)) {
      if (typeof value !== 'string') throw fail(`QMP input member '${member}' must be a string`);
    } else if (member === 'arguments') {
      if (!isJsonObject(value)) throw fail("QMP input member 'arguments' must be an object");
    } else if (member !== 'id') {
      throw fail(`QMP input member '${member}' is unexpected`);
    }
  }
  const execute = message.get('execute') as string | undefined;
  const execOob = message.get('exec-oob') as string | undefined;
  if (execute !== undefined && execOob !== undefined) throw fail("QMP input member 'execute' clashes with 'exec-oob'");
  const command = execute ?? execOob;
  if (command === undefined) throw fail("QMP input lacks member 'execute'");
  return { command, arguments: (message.get('arguments') as JsonObject | undefined) ?? new Map(), outOfBand: execOob !== undefined, id };
}
