/**
 * The socket backends without a VM: a server's ready() (wait=on), output dropped while no
 * client is connected, one client at a time with the next one getting the console, and the
 * filenames query-chardev reports. QEMU 7.2 behaves the same (compared with
 * -serial unix:/tmp/s,server=on,wait=off -S and a Python client, query-chardev over QMP):
 * "disconnected:unix:/tmp/s,server=on" before a client, "unix:/tmp/s,server=on" with one;
 * "tcp:127.0.0.1:4447,server=on <-> 127.0.0.1:44664" for tcp; a second client's connect
 * succeeds (the listen backlog) but it gets nothing until the first leaves.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCharBackend, type CharBackend } from '../../src/chardev/char-backend.js';
import { ChardevOpenError } from '../../src/chardev/chardev-open-error.js';
import { collect, recordingHooks, until, writeAll } from './helpers.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-chardev-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function connectClient(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}

describe('socket server', () => {
  it('with wait=on, says where it waits (QEMU\'s info line) and is ready once a client connected', async () => {
    const path = join(folder, 'wait.sock');
    const hooks = recordingHooks();
    const backend = await openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: true, wait: true }, 'serial0', hooks);
    try {
      expect(hooks.infos).toEqual([`QEMU waiting for connection on: disconnected:unix:${path},server=on`]);
      let ready = false;
      void backend.ready().then(() => (ready = true));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(ready).toBe(false);
      const client = await connectClient(path);
      await until(() => ready, 'ready()');
      expect(backend.filename).toBe(`unix:${path},server=on`);
      client.destroy();
    } finally {
      backend.close();
    }
  });

  it('drops output while no client is connected, gives the console to one client at a time, and survives a client leaving', async () => {
    const path = join(folder, 'drop.sock');
    const backend = await openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: true, wait: false }, 'serial0', recordingHooks());
    try {
      await backend.ready();
      expect(backend.filename).toBe(`disconnected:unix:${path},server=on`);
      await writeAll(backend.writer, 'dropped while nobody listens\n');
      const input = collect(backend.input!);

      const first = await connectClient(path);
      const firstGot = collect(first);
      await until(() => backend.filename === `unix:${path},server=on`, 'the first client');
      const second = await connectClient(path);
      const secondGot = collect(second);
      await writeAll(backend.writer, 'to the first\n');
      first.write('typed by the first\n');
      second.write('typed by the second\n');
      await until(() => firstGot.text() === 'to the first\n', 'the first client\'s output');
      await until(() => input.text() === 'typed by the first\n', 'the first client\'s input');
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(secondGot.text()).toBe('');

      first.destroy();
      await until(() => input.text() === 'typed by the first\ntyped by the second\n', 'the second client\'s input, once it has the console');
      await writeAll(backend.writer, 'to the second\n');
      await until(() => secondGot.text() === 'to the second\n', 'the second client\'s output');
      expect(firstGot.text()).toBe('to the first\n');
      second.destroy();
      await until(() => backend.filename.startsWith('disconnected:'), 'the disconnection');
      await writeAll(backend.writer, 'dropped again\n');
    } finally {
      backend.close();
    }
  });

  it('never keeps the guest waiting on a client that left while its output was full', async () => {
    const path = join(folder, 'full.sock');
    const backend = await openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: true, wait: false }, 'serial0', recordingHooks());
    try {
      const client = await connectClient(path);
      client.pause(); // reads nothing: the output fills
      await until(() => !backend.filename.startsWith('disconnected:'), 'the client');
      const chunk = new Uint8Array(64 * 1024);
      while (backend.writer.write(chunk) > 0);
      const resumed = new Promise<void>((resolve) => backend.writer.whenWritable(resolve));
      client.destroy();
      await resumed;
      expect(backend.writer.write(chunk)).toBe(chunk.length); // dropped now
    } finally {
      backend.close();
    }
  });

  it('reports a tcp server as QEMU does: its resolved address, then the client\'s', async () => {
    const backend = await openCharBackend({ backend: 'socket', address: { kind: 'tcp', host: 'localhost', port: 0 }, server: true, wait: false }, 'serial0', recordingHooks());
    try {
      const port = Number(/:(\d+),server=on$/.exec(backend.filename)?.[1]);
      expect(backend.filename).toBe(`disconnected:tcp:127.0.0.1:${port},server=on`);
      const client = await new Promise<Socket>((resolve) => {
        const socket = connect(port, '127.0.0.1', () => resolve(socket));
      });
      await until(() => !backend.filename.startsWith('disconnected:'), 'the client');
      expect(backend.filename).toBe(`tcp:127.0.0.1:${port},server=on <-> 127.0.0.1:${client.localPort}`);
      client.destroy();
    } finally {
      backend.close();
    }
  });

  it('fails to listen as QEMU says it', async () => {
    const path = join(folder, 'no-such-folder', 's.sock');
    await expect(openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: true, wait: false }, 'serial0', recordingHooks())).rejects.toThrow(
      new ChardevOpenError(`Failed to bind socket to ${path}: No such file or directory`),
    );
  });
});

describe('socket client', () => {
  it('connects before the VM starts, carries bytes both ways, and drops output once the server left', async () => {
    const path = join(folder, 'server.sock');
    let peer: Socket | undefined;
    const server = createServer((socket) => (peer = socket));
    await new Promise<void>((resolve) => server.listen(path, resolve));
    let backend: CharBackend | undefined;
    try {
      backend = await openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: false, wait: true }, 'serial0', recordingHooks());
      expect(backend.filename).toBe('unix:'); // QEMU 7.2's: a client's unix socket has no name of its own
      await until(() => peer !== undefined, 'the connection');
      const got = collect(peer!);
      const input = collect(backend.input!);
      await writeAll(backend.writer, 'hello server\n');
      peer!.write('hello guest\n');
      await until(() => got.text() === 'hello server\n' && input.text() === 'hello guest\n', 'both directions');
      peer!.destroy();
      await until(() => backend!.filename === `disconnected:unix:${path}`, 'the disconnection');
      await writeAll(backend.writer, 'dropped\n');
    } finally {
      backend?.close();
      server.close();
    }
  });

  it('fails with QEMU\'s "Failed to connect to" when nobody listens', async () => {
    const path = join(folder, 'nobody.sock');
    await expect(openCharBackend({ backend: 'socket', address: { kind: 'unix', path }, server: false, wait: true }, 'serial0', recordingHooks())).rejects.toThrow(
      `Failed to connect to '${path}': No such file or directory`,
    );
    // A port nobody listens on (QEMU: "Failed to connect to 'localhost:1': Connection refused").
    await expect(openCharBackend({ backend: 'socket', address: { kind: 'tcp', host: 'localhost', port: 1 }, server: false, wait: true }, 'serial0', recordingHooks())).rejects.toThrow(
      "Failed to connect to 'localhost:1': Connection refused",
    );
  });
});
