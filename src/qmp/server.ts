/**
 * The QMP server's protocol (docs/interop/qmp-spec.txt; behaviour measured against QEMU 7.2):
 * the greeting, capabilities negotiation, requests answered in order with their ids, events to
 * every client that has negotiated. Requests from all clients run one at a time, in the order
 * they arrived, as QEMU's dispatcher runs them: a stop from one client and a cont from another
 * never interleave. Transport-free: listen.ts gives it sockets.
 */
import type { Socket } from 'node:net';
import { checkArguments } from './arguments.js';
import { COMMANDS, type CommandContext } from './commands.js';
import { DEFAULT_LIMITS, QmpConnection, type ConnectionLimits, type Incoming } from './connection.js';
import type { JsonValue } from './json-value.js';
import { MachineActions } from './machine-actions.js';
import type { QmpMachine } from './machine.js';
import { genericError, QmpError } from './qmp-error.js';
import { readRequest, RequestError, type QmpRequest } from './request.js';
import { versionValue, type QmpVersion } from './version.js';

export interface QmpServerOptions {
  readonly version: QmpVersion;
  /** Tells the user about trouble they should know of (a bug in a command). */
  readonly report?: (message: string) => void;
  /** Tests use smaller limits; the defaults are QEMU's. */
  readonly limits?: ConnectionLimits;
}

export class QmpServer {
  readonly actions: MachineActions;
  private readonly connections = new Set<QmpConnection>();
  private work: Promise<void> = Promise.resolve();

  constructor(
    machine: QmpMachine,
    private readonly options: QmpServerOptions,
  ) {
    this.actions = new MachineActions(machine, (event, data) => this.emitEvent(event, data));
  }

  /** Serves a client on `socket`: greets it at once. */
  attach(socket: Socket): void {
    const connection = new QmpConnection(socket, (from, incoming) => this.schedule(from, incoming), this.options.limits ?? DEFAULT_LIMITS);
    this.connections.add(connection);
    socket.once('close', () => this.connections.delete(connection));
    connection.send({ QMP: { version: versionValue(this.options.version), capabilities: ['oob'] } });
  }

  /** An event, as QEMU sends it, to every client past negotiation (QEMU sends none before). */
  emitEvent(event: string, data?: JsonValue): void {
    const microseconds = Math.floor((performance.timeOrigin + performance.now()) * 1000);
    const message = { timestamp: { seconds: Math.floor(microseconds / 1e6), microseconds: microseconds % 1e6 }, event, ...(data === undefined ? {} : { data }) };
    for (const connection of this.connections) if (connection.negotiated) connection.send(message);
  }

  /** Ends every connection once its output has gone out. */
  async close(): Promise<void> {
    await Promise.all([...this.connections].map((connection) => connection.close()));
  }

  private schedule(connection: QmpConnection, incoming: Incoming): Promise<void> {
    const done = this.work
      .then(() => (connection.closed ? undefined : this.handle(connection, incoming)))
      // A bug in one request must not stop the queue for every client.
      .catch((error: unknown) => this.options.report?.(`internal error in the QMP server (this is a bug in tsvisor; please report it):\n${error instanceof Error ? (error.stack ?? error.message) : String(error)}`));
    this.work = done;
    return done;
  }

  private async handle(connection: QmpConnection, incoming: Incoming): Promise<void> {
    if ('error' in incoming) return connection.send(errorReply(genericError(incoming.error), undefined));
    let request: QmpRequest;
    try {
      request = readRequest(incoming.message, connection.outOfBandEnabled);
    } catch (error) {
      if (!(error instanceof RequestError)) throw error;
      return connection.send(errorReply(error.error, error.id));
    }
    const afterReply: (() => void)[] = [];
    try {
      const value = await this.execute(connection, request, { actions: this.actions, version: this.options.version, afterReply: (action) => afterReply.push(action) });
      connection.send({ return: value, ...(request.id === undefined ? {} : { id: request.id }) });
    } catch (error) {
      connection.send(errorReply(this.asQmpError(request, error), request.id));
    }
    for (const action of afterReply) action();
  }

  private async execute(connection: QmpConnection, request: QmpRequest, context: CommandContext): Promise<JsonValue> {
    const { command: name } = request;
    if (!connection.negotiated && name !== 'qmp_capabilities') throw new QmpError('CommandNotFound', "Expecting capabilities negotiation with 'qmp_capabilities'");
    const command = COMMANDS.get(name);
    if (!command) throw new QmpError('CommandNotFound', `The command ${name} has not been found`);
    if (request.outOfBand && !command.allowOutOfBand) throw genericError(`The command ${name} does not support OOB`);
    if (name === 'qmp_capabilities') {
      if (connection.negotiated) throw new QmpError('CommandNotFound', 'Capabilities negotiation is already complete, command ignored');
      checkArguments(command.parameters, request.arguments);
      connection.negotiated = true;
      connection.outOfBandEnabled = ((request.arguments.get('enable') as readonly string[] | undefined) ?? []).includes('oob');
      return {};
    }
    checkArguments(command.parameters, request.arguments);
    return command.run(request.arguments, context);
  }

  /** A command that fails other than with a QmpError is a bug in tsvisor: the client gets a GenericError, the user a report. */
  private asQmpError(request: QmpRequest, error: unknown): QmpError {
    if (error instanceof QmpError) return error;
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.options.report?.(`internal error in the QMP command ${request.command} (this is a bug in tsvisor; please report it):\n${detail}`);
    return genericError(`internal error in tsvisor while running ${request.command}`);
  }
}

function errorReply(error: QmpError, id: JsonValue | undefined): JsonValue {
  return { ...(id === undefined ? {} : { id }), error: { class: error.errorClass, desc: error.message } };
}
