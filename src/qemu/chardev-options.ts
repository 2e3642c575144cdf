/**
 * Character devices, parsed up front into plain data (src/chardev/ opens them): -chardev,
 * -serial (COM1) in its short forms or as chardev:ID, and the monitors' channels (-qmp,
 * -monitor, -mon with -chardev), in QEMU 7.2's syntax (docs/system/invocation.rst,
 * "Character device options"): `tcp:host:port` and `unix:path`, with `server=on|off` and
 * `wait=on|off` or the legacy bare `server` and `nowait`. The messages are QEMU 7.2's where
 * it has one (test/qemu/chardev-oracle.test.ts compares them).
 */
import { resolve } from 'node:path';
import { parseBoolean, parseKeyValues, type KeyValue } from './keyval.js';
import type { ChardevSpec, MonitorChannel, MonitorRequest, SerialChardev, SocketAddress } from './invocation.js';
import { PROGRAM, QemuError } from './qemu-error.js';

/** The backends tsvisor opens (src/chardev/), and the others QEMU 7.2 lists (`-chardev help`), refused by name. */
const BACKENDS = ['stdio', 'null', 'file', 'pipe', 'pty', 'socket'];
const QEMU_ONLY_BACKENDS = ['ringbuf', 'mux', 'qemu-vdagent', 'msmouse', 'vc', 'parallel', 'udp', 'memory', 'serial', 'wctablet', 'testdev', 'spicevmc', 'spiceport', 'braille', 'tty'];

/** -chardev keys tsvisor acts on; `nowait` is the legacy wait=off. */
const KEYS = ['backend', 'id', 'path', 'host', 'port', 'server', 'wait', 'nowait', 'append', 'signal', 'mux'];
/** QEMU's socket tuning that changes nothing a guest or its user sees: taken and ignored. */
const IGNORED_KEYS = ['delay', 'nodelay'];
/** QEMU's chardev options for behaviours tsvisor lacks: refused by name unless off. */
const UNSUPPORTED_KEYS = ['telnet', 'tn3270', 'websocket', 'reconnect', 'tls-creds', 'tls-authz', 'logfile', 'logappend', 'fd', 'local', 'localaddr', 'localport', 'to', 'ipv4', 'ipv6', 'abstract', 'tight'];

/** A -chardev, by id: -serial chardev:ID and -mon chardev=ID refer to it. */
export interface ChardevDefinition {
  readonly id: string;
  /** The option as written, which errors in opening it name. */
  readonly option: string;
  readonly spec: ChardevSpec;
  /** mux=on: COM1 and a monitor share it (stdio only). */
  readonly mux: boolean;
}

/**
 * -serial: stdio, null, none, file:PATH, pipe:PATH, pty, unix:PATH[,...], tcp:[HOST]:PORT[,...]
 * or chardev:ID (a -chardev, given before or after). tsvisor always has COM1: "none" (no
 * serial port in QEMU) sends its output nowhere, as null does.
 */
export function parseSerial(text: string, chardevs: ReadonlyMap<string, ChardevDefinition>): SerialChardev {
  const option = `-serial ${text}`;
  const serial = (spec: ChardevSpec): SerialChardev => ({ spec, label: 'serial0', option, serialArgument: text });
  const notConnected = () => new QemuError(option, `could not connect serial device to character backend '${text}'`);
  if (text === 'stdio') return serial({ backend: 'stdio', signal: true });
  if (text === 'null' || text === 'none') return serial({ backend: 'null' });
  if (text === 'pty') return serial({ backend: 'pty' });
  if (text.startsWith('chardev:')) {
    const chardev = chardevs.get(text.slice('chardev:'.length));
    if (!chardev) throw notConnected();
    return { spec: chardev.spec, label: chardev.id, option: chardev.option, serialArgument: undefined, mux: chardev.mux };
  }
  if (text.startsWith('file:') || text.startsWith('pipe:')) {
    const path = text.slice('file:'.length);
    if (path === '') throw serialError(text, 'Could not open \'\': No such file or directory');
    return serial(text.startsWith('file:') ? { backend: 'file', path: resolve(path), append: false } : { backend: 'pipe', path: resolve(path) });
  }
  if (text.startsWith('unix:') || text.startsWith('tcp:')) return serial(parseSocketShorthand(text));
  // mon:stdio: the terminal shared with the human monitor; Ctrl-C goes to the guest (QEMU 7.2 clears ISIG).
  if (text === 'mon:stdio') return { ...serial({ backend: 'stdio', signal: false }), mux: true };
  if (text.startsWith('mon:')) {
    throw new QemuError(option, 'tsvisor shares only the terminal between COM1 and the monitor: use -serial mon:stdio, or give the monitor its own -monitor.');
  }
  const backend = /^[a-z]+:/.test(text) ? text.slice(0, text.indexOf(':')) : text;
  if (QEMU_ONLY_BACKENDS.includes(backend) || LEGACY_SOCKET_FORMS.includes(backend)) {
    throw new QemuError(option, `tsvisor does not support the '${backend}' serial backend: it takes ${SERIAL_FORMS}.`);
  }
  throw serialError(text, `'${backend}' is not a valid char driver`);
}

/** -serial's socket forms for protocols tsvisor does not speak. */
const LEGACY_SOCKET_FORMS = ['telnet', 'websocket'];
const SERIAL_FORMS = 'stdio, null, file:PATH, pipe:PATH, pty, unix:PATH and tcp:[HOST]:PORT (each with server=on|off, wait=on|off) and chardev:ID';

/** QEMU's two lines for a -serial it cannot open: what went wrong, then that the serial port has no backend. */
export function serialError(serialArgument: string, problem: string): QemuError {
  return new QemuError(`-serial ${serialArgument}`, `${problem}\n${PROGRAM}: -serial ${serialArgument}: could not connect serial device to character backend '${serialArgument}'`);
}

/** -serial unix:PATH[,options] or tcp:[HOST]:PORT[,options]: a socket chardev in one word. */
function parseSocketShorthand(text: string): ChardevSpec {
  const pairs = parseKeyValues('-serial', text, 'address');
  const address = valueOf(pairs, 'address') ?? '';
  const fail = (problem: string) => serialError(text, problem);
  const rest = pairs.filter((pair) => pair.key !== 'address');
  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (path === '') throw fail('unix: needs the socket\'s path: unix:PATH.');
    return socketSpec(fail, `-serial ${text}`, { kind: 'unix', path: resolve(path) }, rest);
  }
  const hostPort = address.slice('tcp:'.length);
  const colon = hostPort.lastIndexOf(':');
  if (colon < 0) throw fail(`expected tcp:[HOST]:PORT, found '${address}'.`);
  const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
  return socketSpec(fail, `-serial ${text}`, { kind: 'tcp', host, port: parsePort(fail, host, hostPort.slice(colon + 1)) }, rest);
}

/** -chardev BACKEND,id=ID[,...]: stdio (signal=), null, file (path=, append=), pipe (path=), pty, socket (path= | host=,port=; server=, wait=). */
export function parseChardev(text: string): ChardevDefinition {
  const option = `-chardev ${text}`;
  const fail = (problem: string) => new QemuError(option, problem);
  const pairs = parseKeyValues('-chardev', text, 'backend');
  const backend = valueOf(pairs, 'backend') ?? '';
  const id = valueOf(pairs, 'id');
  if (QEMU_ONLY_BACKENDS.includes(backend)) throw fail(`tsvisor does not support the '${backend}' chardev backend: it takes ${BACKENDS.join(', ')}.`);
  if (!BACKENDS.includes(backend)) throw fail(`'${backend}' is not a valid char driver name`);
  if (!id) throw fail('chardev: no id specified');
  const path = valueOf(pairs, 'path');
  checkKeys(fail, pairs);
  const spec = ((): ChardevSpec => {
    switch (backend) {
      case 'stdio': {
        const signal = valueOf(pairs, 'signal');
        return { backend: 'stdio', signal: signal === undefined ? true : parseBoolean(option, 'signal', signal) };
      }
      case 'null':
        return { backend: 'null' };
      case 'pty':
        return { backend: 'pty' };
      case 'file': {
        if (path === undefined) throw fail('chardev: file: no filename given');
        const append = valueOf(pairs, 'append');
        return { backend: 'file', path: resolve(path), append: append === undefined ? false : parseBoolean(option, 'append', append) };
      }
      case 'pipe':
        if (path === undefined) throw fail('chardev: pipe: no device path given');
        return { backend: 'pipe', path: resolve(path) };
      default: {
        const host = valueOf(pairs, 'host');
        const port = valueOf(pairs, 'port');
        const options = pairs.filter((pair) => ['server', 'wait', 'nowait'].includes(pair.key));
        if (path !== undefined) return socketSpec(fail, option, { kind: 'unix', path: resolve(path) }, options);
        if (port === undefined && host !== undefined) throw fail('chardev: socket: no port given');
        if (port === undefined) throw fail('a socket chardev needs path= (a Unix socket) or host= and port= (TCP).');
        return socketSpec(fail, option, { kind: 'tcp', host: host ?? '', port: parsePort(fail, host ?? '', port) }, options);
      }
    }
  })();
  const mux = valueOf(pairs, 'mux');
  const muxed = mux === undefined ? false : parseBoolean(option, 'mux', mux);
  if (muxed && spec.backend !== 'stdio') throw fail(`tsvisor shares only the terminal between COM1 and the monitor: mux=on is for a stdio chardev, and this is a ${spec.backend} one.`);
  return { id, option, spec, mux: muxed };
}

/** A socket's remaining options (server, wait, nowait and the rest) checked: server off by default, wait on for a server and refused for a client, as QEMU. */
function socketSpec(fail: (problem: string) => QemuError, option: string, address: SocketAddress, options: readonly KeyValue[]): ChardevSpec {
  checkKeys(fail, options);
  const { server, wait, waitGiven } = serverAndWait(option, options);
  if (!server && waitGiven) throw fail('\'wait\' option is incompatible with socket in client connect mode');
  if (!server && address.kind === 'tcp' && address.host === '') throw fail(`address resolution failed for :${address.port}: Name or service not known`);
  return { backend: 'socket', address, server, wait };
}

function checkKeys(fail: (problem: string) => QemuError, pairs: readonly KeyValue[]): void {
  for (const { key, value } of pairs) {
    if (UNSUPPORTED_KEYS.includes(key)) {
      if (['off', 'no', 'false', 'n'].includes(value)) continue;
      throw fail(`tsvisor does not support the chardev option '${key}' (it takes server, wait, path, host, port, append and signal).`);
    }
    if (!KEYS.includes(key) && !IGNORED_KEYS.includes(key) && key !== 'address') throw fail(`Invalid parameter '${key}'`);
  }
}

/** The channel a -mon's chardev gives a monitor: a socket or the terminal. */
function monitorChannelOf(option: string, chardev: ChardevDefinition): MonitorChannel {
  const { spec } = chardev;
  if (spec.backend === 'socket') return { kind: 'socket', address: spec.address, server: spec.server, wait: spec.wait };
  if (spec.backend === 'stdio') return chardev.mux ? { kind: 'mux' } : { kind: 'stdio' };
  throw new QemuError(option, `tsvisor's monitors talk through a socket or stdio chardev, and '${chardev.id}' is a ${spec.backend} chardev.`);
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
    const host = hostPort.slice(0, colon) || 'localhost';
    address = { kind: 'tcp', host, port: parsePort((problem) => new QemuError(`${option} ${text}`, problem), host, hostPort.slice(colon + 1)) };
  } else {
    throw new QemuError(`${option} ${text}`, `tsvisor does not support the monitor channel '${spec}': it takes unix:PATH, tcp:HOST:PORT (each with server=on|off, wait=on|off) and stdio.`);
  }
  const unknown = pairs.find((pair) => !['address', 'server', 'wait', 'nowait'].includes(pair.key));
  if (unknown) throw new QemuError(`${option} ${text}`, `Invalid parameter '${unknown.key}'`);
  const { server, wait } = serverAndWait(`${option} ${text}`, pairs);
  return { kind: 'socket', address, server, wait };
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
  return { option, mode, pretty: pretty === undefined ? false : parseBoolean(option, 'pretty', pretty), channel: monitorChannelOf(option, chardev) };
}

function valueOf(pairs: readonly KeyValue[], key: string): string | undefined {
  return pairs.findLast((pair) => pair.key === key)?.value;
}

/** server (off by default) and wait (on by default, meaningful for a server); `nowait` is the legacy wait=off. */
function serverAndWait(option: string, pairs: readonly KeyValue[]): { server: boolean; wait: boolean; waitGiven: boolean } {
  const server = valueOf(pairs, 'server');
  const wait = valueOf(pairs, 'wait');
  const nowait = valueOf(pairs, 'nowait');
  return {
    server: server === undefined ? false : parseBoolean(option, 'server', server),
    wait: nowait !== undefined ? !parseBoolean(option, 'nowait', nowait) : wait === undefined ? true : parseBoolean(option, 'wait', wait),
    waitGiven: wait !== undefined || nowait !== undefined,
  };
}

/** A TCP port: a number, as QEMU resolves it (a service name it would look up is refused with its resolver's words). */
function parsePort(fail: (problem: string) => QemuError, host: string, text: string): number {
  if (!/^\d+$/.test(text)) throw fail(`address resolution failed for ${host}:${text}: Servname not supported for ai_socktype`);
  const port = Number(text);
  if (port > 0xffff) throw fail(`'${text}' is not a TCP port number (0 to 65535).`);
  return port;
}
