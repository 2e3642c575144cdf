/**
 * Character devices: -serial (COM1's output) and the monitors' channels (-qmp, -monitor,
 * -mon with -chardev), in QEMU's syntax (docs/system/invocation.rst, "Character device
 * options"): `tcp:host:port` and `unix:path`, with `server=on|off` and `wait=on|off` or the
 * legacy bare `server` and `nowait`.
 */
import { resolve } from 'node:path';
import { parseBoolean, parseKeyValues, type KeyValue } from './keyval.js';
import type { MonitorChannel, MonitorRequest, SerialBackend, SocketAddress } from './invocation.js';
import { QemuError } from './qemu-error.js';

/** -serial: stdio, null (or none), file:path. */
export function parseSerial(text: string): SerialBackend {
  const option = `-serial ${text}`;
  if (text === 'stdio') return { kind: 'stdio' };
  if (text === 'null' || text === 'none') return { kind: 'null' };
  if (text.startsWith('file:')) {
    const path = text.slice('file:'.length);
    if (path === '') throw new QemuError(option, 'Could not open \'\': No such file or directory');
    return { kind: 'file', path: resolve(path) };
  }
  if (text.startsWith('mon:')) {
    throw new QemuError(option, 'mon: puts QEMU\'s human monitor on the serial port, and tsvisor has no monitor yet. Use -serial stdio.');
  }
  const backend = /^[a-z]+:/.test(text) ? text.slice(0, text.indexOf(':')) : text;
  throw new QemuError(option, `tsvisor does not support the '${backend}' serial backend: it takes stdio, file:PATH and null.`);
}

/** A -chardev the monitors may refer to, by id. */
export interface ChardevDefinition {
  readonly id: string;
  readonly channel: MonitorChannel;
}

/** -chardev socket,id=,path= | host=,port= [,server=][,wait=], or -chardev stdio,id=. */
export function parseChardev(text: string): ChardevDefinition {
  const option = `-chardev ${text}`;
  const pairs = parseKeyValues('-chardev', text, 'backend');
  const backend = valueOf(pairs, 'backend');
  const id = valueOf(pairs, 'id');
  if (!id) throw new QemuError(option, 'Parameter \'id\' is missing');
  if (backend === 'stdio') return { id, channel: { kind: 'stdio' } };
  if (backend !== 'socket') throw new QemuError(option, `tsvisor does not support the '${backend}' chardev backend: a monitor's chardev is a socket (path= or host=,port=) or stdio.`);
  const path = valueOf(pairs, 'path');
  const host = valueOf(pairs, 'host');
  const port = valueOf(pairs, 'port');
  let address: SocketAddress;
  if (path !== undefined) address = { kind: 'unix', path: resolve(path) };
  else if (port !== undefined) address = { kind: 'tcp', host: host ?? 'localhost', port: parsePort(option, port) };
  else throw new QemuError(option, 'a socket chardev needs path= (a Unix socket) or host= and port= (TCP).');
  const known = ['backend', 'id', 'path', 'host', 'port', 'server', 'wait', 'nowait'];
  const unknown = pairs.find((pair) => !known.includes(pair.key));
  if (unknown) throw new QemuError(option, `Invalid parameter '${unknown.key}'`);
  return { id, channel: { kind: 'socket', address, ...serverAndWait(option, pairs) } };
}

/**
 * A monitor's channel in the legacy form -qmp and -monitor take: tcp:host:port or
 * unix:path, then options; or stdio. Undefined for "none": no monitor.
 */
export function parseLegacyChannel(option: string, text: string): MonitorChannel | undefined {
  if (text === 'none') return undefined;
  if (text === 'stdio') return { kind: 'stdio' };
  const pairs = parseKeyValues(option, text, 'address');
  const spec = valueOf(pairs, 'address') ?? '';
  let address: SocketAddress;
  if (spec.startsWith('unix:')) {
    address = { kind: 'unix', path: resolve(spec.slice('unix:'.length)) };
  } else if (spec.startsWith('tcp:')) {
    const hostPort = spec.slice('tcp:'.length);
    const colon = hostPort.lastIndexOf(':');
    if (colon < 0) throw new QemuError(`${option} ${text}`, `expected tcp:HOST:PORT, found '${spec}'.`);
    address = { kind: 'tcp', host: hostPort.slice(0, colon) || 'localhost', port: parsePort(`${option} ${text}`, hostPort.slice(colon + 1)) };
  } else {
    throw new QemuError(`${option} ${text}`, `tsvisor does not support the monitor channel '${spec}': it takes unix:PATH, tcp:HOST:PORT (each with server=on|off, wait=on|off) and stdio.`);
  }
  const unknown = pairs.find((pair) => !['address', 'server', 'wait', 'nowait'].includes(pair.key));
  if (unknown) throw new QemuError(`${option} ${text}`, `Invalid parameter '${unknown.key}'`);
  return { kind: 'socket', address, ...serverAndWait(`${option} ${text}`, pairs) };
}

/** -mon [chardev=]id[,mode=control|readline][,pretty=on|off]. */
export function parseMon(text: string, chardevs: ReadonlyMap<string, ChardevDefinition>): MonitorRequest {
  const option = `-mon ${text}`;
  const pairs = parseKeyValues('-mon', text, 'chardev');
  const id = valueOf(pairs, 'chardev');
  const chardev = id === undefined ? undefined : chardevs.get(id);
  if (!chardev) throw new QemuError(option, `chardev "${id ?? ''}" not found`);
  const mode = valueOf(pairs, 'mode') ?? 'readline';
  if (mode !== 'control' && mode !== 'readline') throw new QemuError(option, `Parameter 'mode' does not accept value '${mode}'`);
  const pretty = valueOf(pairs, 'pretty');
  return { option, mode, pretty: pretty === undefined ? false : parseBoolean(option, 'pretty', pretty), channel: chardev.channel };
}

function valueOf(pairs: readonly KeyValue[], key: string): string | undefined {
  return pairs.findLast((pair) => pair.key === key)?.value;
}

/** server (off by default) and wait (on by default, meaningful for a server); `nowait` is the legacy wait=off. */
function serverAndWait(option: string, pairs: readonly KeyValue[]): { server: boolean; wait: boolean } {
  const server = valueOf(pairs, 'server');
  const wait = valueOf(pairs, 'wait');
  const nowait = valueOf(pairs, 'nowait');
  return {
    server: server === undefined ? false : parseBoolean(option, 'server', server),
    wait: nowait !== undefined ? !parseBoolean(option, 'nowait', nowait) : wait === undefined ? true : parseBoolean(option, 'wait', wait),
  };
}

function parsePort(option: string, text: string): number {
  const port = /^\d+$/.test(text) ? Number(text) : Number.NaN;
  if (!(port >= 0 && port <= 0xffff)) throw new QemuError(option, `'${text}' is not a TCP port number.`);
  return port;
}
