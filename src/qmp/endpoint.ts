/**
 * Where QMP listens (or connects), in the syntax of QEMU's -qmp (docs: qemu(1), "-qmp dev",
 * and the legacy character device syntax of -serial/-chardev): "unix:PATH" or
 * "tcp:[HOST]:PORT", then options: server=on|off (a bare "server" is on), wait=on|off (a bare
 * "wait" is on, the legacy "nowait" off). As in QEMU, a socket is a client that connects unless
 * server is on, and a server waits for its first client before the guest starts unless wait is off.
 */
import { TsvisorError } from '../errors.js';

export type QmpEndpoint =
  | { readonly transport: 'unix'; readonly path: string; readonly server: boolean; readonly wait: boolean }
  | { readonly transport: 'tcp'; readonly host: string; readonly port: number; readonly server: boolean; readonly wait: boolean };

const SYNTAX = 'unix:PATH[,server=on][,wait=off] or tcp:[HOST]:PORT[,server=on][,wait=off] (QEMU\'s -qmp syntax; "server,nowait" also works)';

export class QmpEndpointError extends TsvisorError {
  override name = 'QmpEndpointError';
  constructor(text: string, problem: string) {
    super(`--qmp ${text}: ${problem}. Give the QMP socket as ${SYNTAX}, for example --qmp unix:/tmp/tsvisor-qmp.sock,server=on,wait=off.`);
  }
}

export function parseQmpEndpoint(text: string): QmpEndpoint {
  const [address = '', ...options] = text.split(',');
  const fail = (problem: string) => new QmpEndpointError(text, problem);
  let server: boolean | undefined;
  let wait: boolean | undefined;
  for (const option of options) {
    const [name = '', value] = option.split('=', 2) as [string, string | undefined];
    if (name === 'nowait' && value === undefined) wait = false;
    else if (name === 'server') server = onOff(name, value, fail);
    else if (name === 'wait') wait = onOff(name, value, fail);
    else throw fail(`'${option}' is not an option tsvisor's QMP socket takes (it takes server, wait and nowait)`);
  }
  server ??= false;
  if (!server && wait !== undefined) throw fail("'wait' is for a server socket, and this one connects to a server (add server=on to listen)");
  wait ??= server;

  if (address.startsWith('unix:')) {
    const path = address.slice('unix:'.length);
    if (path === '') throw fail('the unix socket has no path');
    return { transport: 'unix', path, server, wait };
  }
  if (address.startsWith('tcp:')) {
    const hostPort = address.slice('tcp:'.length);
    const colon = hostPort.lastIndexOf(':');
    if (colon < 0) throw fail('the tcp address has no port');
    const host = hostPort.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
    const portText = hostPort.slice(colon + 1);
    const port = Number(portText);
    if (!/^\d+$/.test(portText) || port > 65535) throw fail(`'${portText}' is not a TCP port (0 to 65535)`);
    if (!server && (host === '' || port === 0)) throw fail('a client socket needs the host and port of a QMP server');
    return { transport: 'tcp', host, port, server, wait };
  }
  throw fail(`'${address}' is neither a unix: nor a tcp: address`);
}

function onOff(name: string, value: string | undefined, fail: (problem: string) => Error): boolean {
  if (value === undefined || value === 'on') return true;
  if (value === 'off') return false;
  throw fail(`the option ${name} takes on or off, not '${value}'`);
}

/** The endpoint as QEMU's query-chardev names a socket ("unix:/tmp/q.sock,server=on", "tcp:127.0.0.1:4444,server=on"). */
export function endpointFilename(endpoint: QmpEndpoint): string {
  const address = endpoint.transport === 'unix' ? `unix:${endpoint.path}` : `tcp:${endpoint.host}:${endpoint.port}`;
  return endpoint.server ? `${address},server=on` : address;
}
