/** The human monitor on a socket, as QEMU's socket chardev serves it: one client at a time, each greeted; client sockets' errors in QEMU's words. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startMonitorSocket, type MonitorSocket } from '../../src/monitor/monitor-socket.js';
import { MachineActions } from '../../src/qmp/machine-actions.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from '../qmp/fake-machine.js';

const GREETING = "QEMU 7.2.0 monitor - type 'help' for more information\r\n(qemu) ";
const folders: string[] = [];
const services: MonitorSocket[] = [];
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.close()));
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
});

function options(option: string) {
  const machine = new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [1], []);
  return { option, actions: new MachineActions(machine, () => {}), version: qmpVersion('0.1.0') };
}

/** A client that collects what it receives, and waits for text to arrive. */
function client(socket: Socket) {
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (text: string) => (received += text));
  return {
    socket,
    received: () => received,
    until: async (ending: string) => {
      for (let waited = 0; !received.endsWith(ending); waited += 10) {
        if (waited > 5000) throw new Error(`waited 5 s for ${JSON.stringify(ending)}; received ${JSON.stringify(received)}`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const all = received;
      received = '';
      return all;
    },
  };
}

describe('the human monitor on a socket', () => {
  it('serves one client at a time: the next is greeted once the one before has gone', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'hmp-'));
    folders.push(folder);
    const path = join(folder, 'm.sock');
    const service = await startMonitorSocket({ kind: 'unix', path }, true, options(`-monitor unix:${path},server=on`));
    services.push(service);
    const first = client(connect(path));
    expect(await first.until('(qemu) ')).toBe(GREETING);
    const second = client(connect(path));
    second.socket.write('info status\n');
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(second.received()).toBe('');
    first.socket.end();
    expect(await second.until('VM status: running\r\n(qemu) ')).toMatch(/^QEMU 7\.2\.0 monitor.*\(qemu\) .*info status\x1b\[K\r\nVM status: running\r\n\(qemu\) $/s);
    second.socket.end();
  });

  it('ends the connection after quit', async () => {
    const service = await startMonitorSocket({ kind: 'tcp', host: '127.0.0.1', port: 0 }, true, options('-monitor tcp:127.0.0.1:0,server=on'));
    services.push(service);
    const port = service.address.kind === 'tcp' ? service.address.port : 0;
    const session = client(connect(port, '127.0.0.1'));
    await session.until('(qemu) ');
    const closed = new Promise((resolve) => session.socket.once('close', resolve));
    session.socket.write('quit\n');
    await closed;
    expect(session.received()).toBe('q\x1b[K\x1b[Dqu\x1b[K\x1b[D\x1b[Dqui\x1b[K\x1b[D\x1b[D\x1b[Dquit\x1b[K\r\n');
  });

  it('as a client, connects to a listening program and greets it', async () => {
    const listener = createServer();
    const accepted = new Promise<Socket>((resolve) => listener.once('connection', resolve));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    const port = (listener.address() as { port: number }).port;
    services.push(await startMonitorSocket({ kind: 'tcp', host: '127.0.0.1', port }, false, options(`-monitor tcp:127.0.0.1:${port}`)));
    expect(await client(await accepted).until('(qemu) ')).toBe(GREETING);
    listener.close();
  });

  it("as a client, fails in QEMU's words when nobody listens (QEMU 7.2: -monitor unix:/tmp/nonexist.sock, -monitor tcp:127.0.0.1:1)", async () => {
    await expect(startMonitorSocket({ kind: 'unix', path: '/tmp/nonexist.sock' }, false, options('-monitor unix:/tmp/nonexist.sock'))).rejects.toThrow(
      "-monitor unix:/tmp/nonexist.sock: Failed to connect to '/tmp/nonexist.sock': No such file or directory",
    );
    await expect(startMonitorSocket({ kind: 'tcp', host: '127.0.0.1', port: 1 }, false, options('-monitor tcp:127.0.0.1:1'))).rejects.toThrow(
      "-monitor tcp:127.0.0.1:1: Failed to connect to '127.0.0.1:1': Connection refused",
    );
  });
});
