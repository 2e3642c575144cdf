/**
 * What a client cannot do to tsvisor's QMP server: grow its memory without bound with a message
 * that never ends or a flood it never reads the replies to, or harm it by leaving in the middle
 * of a command. The limits are made small here; QEMU's own are compared in qemu-sessions.test.ts.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, type ConnectionLimits } from '../../src/qmp/connection.js';
import { QmpServer } from '../../src/qmp/server.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from './fake-machine.js';
import { LineClient } from './line-client.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qmp-bounded-'));
let listener: Server | undefined;
afterEach(() => listener?.close());
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A QMP server on a fresh socket, with the server side of its first connection. */
async function serve(machine: FakeMachine, limits: ConnectionLimits) {
  const server = new QmpServer(machine, { version: qmpVersion('0.1.0'), limits });
  const path = join(folder, `${Math.random().toString(36).slice(2)}.sock`);
  const sockets: Socket[] = [];
  listener = createServer((socket) => {
    sockets.push(socket);
    server.attach(socket);
  });
  await new Promise<void>((resolve) => listener!.listen(path, resolve));
  const client = new LineClient(path);
  await client.line(); // the greeting
  client.write('{"execute":"qmp_capabilities"}');
  expect(await client.line()).toBe('{"return": {}}');
  return { client, path, serverSide: sockets[0] as Socket };
}

const idle = () => new Promise((resolve) => setImmediate(resolve));
const fake = () => new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [], []);

describe('bounded memory', () => {
  it('a string that never ends is cut at the token limit, again and again, as QEMU cuts it at 64 MiB', async () => {
    const { client } = await serve(fake(), { ...DEFAULT_LIMITS, tokenBytes: 1024 });
    client.write(`{"execute":"query-name","id":"${'a'.repeat(10 * 1024)}`);
    // The string's first 1025 bytes, then runs of 1025 letters (a keyword that never ends): 9 cuts, 1016 letters held.
    const lines = await client.lineCount(9);
    expect(new Set(lines)).toEqual(new Set(['{"error": {"class": "GenericError", "desc": "JSON token size limit exceeded"}}']));
    client.write('\n{"execute":"query-name","id":"after"}\n');
    expect(await client.line()).toBe(`{"error": {"class": "GenericError", "desc": "JSON parse error, invalid keyword '${'a'.repeat(1016)}'"}}`);
    expect(await client.line()).toBe('{"return": {}, "id": "after"}');
    client.close();
  });

  it('a client that floods requests and never reads: the server stops reading it, then answers every request in order', async () => {
    const limits = { ...DEFAULT_LIMITS, unsentBytes: 4096 };
    const { client, serverSide } = await serve(fake(), limits);
    const count = 20_000;
    let written = 0;
    for (let id = 0; id < count; id++) {
      const request = `{"execute":"query-status","id":${id}}`;
      written += request.length;
      client.write(request);
    }
    client.socket.pause();
    while (!serverSide.isPaused()) await idle();
    expect(serverSide.bytesRead).toBeLessThan(written);
    client.socket.resume();
    const replies = await client.lineCount(count);
    expect(replies.map((line) => (JSON.parse(line) as { id: number }).id)).toEqual(Array.from({ length: count }, (_unused, id) => id));
    client.close();
  });
});

describe('a client that leaves', () => {
  it('in the middle of a stop: the stop completes, its event goes to the others, and nothing breaks', async () => {
    const machine = fake();
    let finishPause!: () => void;
    machine.pause = async () => {
      machine.calls.push('pause');
      await new Promise<void>((resolve) => (finishPause = resolve));
      machine.state = 'paused';
    };
    const { client, path } = await serve(machine, DEFAULT_LIMITS);
    const other = new LineClient(path);
    await other.line();
    other.write('{"execute":"qmp_capabilities"}');
    expect(await other.line()).toBe('{"return": {}}');
    client.write('{"execute":"stop"}');
    while (!machine.calls.includes('pause')) await idle();
    client.close();
    finishPause();
    expect(await other.line()).toMatch(/^\{"timestamp": \{"seconds": \d+, "microseconds": \d+\}, "event": "STOP"\}$/);
    other.write('{"execute":"query-status"}');
    expect(await other.line()).toBe('{"return": {"status": "paused", "singlestep": false, "running": false}}');
    other.close();
  });
});
