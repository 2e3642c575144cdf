/**
 * COM1 over each connected chardev with a real guest under KVM: the echo guest (it prints
 * "echo> ", reads a line, prints "you typed: <line>\n" and powers off) over a unix socket
 * server (QEMU's default wait=on: the guest starts once the test connects), a tcp client (the
 * test listens first) and a pty; the exact bytes the guest printed and status 0. While each
 * runs, query-chardev over -qmp gives serial0's filename, compared with QEMU 7.2's for the
 * same -serial and the same kind of peer (qemu-system-x86_64 -accel tcg -S, which cannot
 * boot this flat guest but opens its chardevs the same way), ports and pty numbers aside.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ReadStream } from 'node:tty';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { O_NOCTTY, O_RDWR } from '../../src/host/libc.js';
import { QmpClient } from '../../src/qmp/client.js';
import { isJsonObject } from '../../src/qmp/json-value.js';
import { until } from '../chardev/helpers.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO } from '../helpers/tsvisor.js';
import { QEMU, qemuInstalled, TSVISOR_QEMU } from './oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-chardev-boot-'));
const children: ChildProcess[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});
afterAll(() => rmSync(folder, { recursive: true, force: true }));

interface Started {
  readonly child: ChildProcess;
  readonly exit: Promise<number | null>;
  stdout(): string;
  stderr(): string;
}

/** The echo guest under tsvisor-qemu; under QEMU, which cannot boot it, the bench guest held by -S (its chardevs open all the same). */
function start(command: 'qemu' | 'tsvisor', args: readonly string[]): Started {
  const [file, prefix] = command === 'qemu' ? [QEMU, ['-accel', 'tcg', '-S', '-kernel', 'guests/build/bench.elf32']] : [process.execPath, [TSVISOR_QEMU, '-kernel', 'guests/build/echo.bin']];
  return spawnStarted(file, [...prefix, '-nodefaults', '-display', 'none', ...args]);
}

function spawnStarted(file: string, args: readonly string[]): Started {
  const child = spawn(file, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** serial0's filename, as query-chardev over the -qmp socket at `path` reports it, once that server is up. */
async function serialFilename(path: string): Promise<string> {
  let client: QmpClient | undefined;
  const deadline = Date.now() + 15_000;
  while (!client) {
    try {
      client = await QmpClient.connect({ transport: 'unix', path });
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 20)); // not listening yet
    }
  }
  try {
    const reply = await client.execute('query-chardev');
    const list = 'return' in reply && Array.isArray(reply.return) ? reply.return : [];
    const serial = list.find((chardev) => isJsonObject(chardev) && chardev.get('label') === 'serial0');
    return isJsonObject(serial) ? String(serial.get('filename')) : 'no serial0';
  } finally {
    client.close();
  }
}

/** Ports and pty numbers, which differ from run to run, written as P and N. */
const normalized = (filename: string) => filename.replace(/:\d+(?=[, ]|$)/g, ':P').replace(/pts\/\d+/, 'pts/N');

function connectUnix(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path, () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Everything `peer` delivers until it ends (or fails: a pty's EIO once its master is gone). */
function allOf(peer: NodeJS.ReadableStream): Promise<string> {
  let got = '';
  peer.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
  return new Promise((resolve) => {
    peer.once('end', () => resolve(got));
    peer.once('error', () => resolve(got));
    peer.once('close', () => resolve(got));
  });
}

/** Talks to the echo guest over `peer`: waits for the prompt, types a line, returns all the guest printed once it has ended. */
async function converse(peer: NodeJS.ReadWriteStream, ended: Promise<unknown>): Promise<string> {
  let got = '';
  peer.on('data', (chunk: Buffer) => (got += chunk.toString('latin1')));
  await until(() => got.includes('echo> '), 'the prompt', 15_000);
  peer.write('hi\r');
  await ended;
  await until(() => got.endsWith('\n'), 'the last line');
  return got;
}

describeKvm('COM1 over a socket or a pty, with the echo guest', () => {
  it('-serial unix:PATH,server=on: waits for the client, then the guest talks to it', { timeout: 60_000 }, async () => {
    const serial = (name: string) => `unix:${join(folder, name)},server=on`;
    const ours = start('tsvisor', ['-serial', serial('s.sock'), '-qmp', `unix:${join(folder, 'q.sock')},server=on,wait=off`]);
    await until(() => ours.stderr().includes('\n'), 'the info line', 15_000);
    expect(ours.stderr()).toBe(`tsvisor-qemu: -serial ${serial('s.sock')}: info: QEMU waiting for connection on: disconnected:${serial('s.sock')}\n`);
    const client = await connectUnix(join(folder, 's.sock'));
    const filename = await serialFilename(join(folder, 'q.sock'));
    expect(filename).toBe(serial('s.sock'));
    const transcript = converse(client, ours.exit);
    expect(await ours.exit).toBe(0);
    expect(await transcript).toBe('echo> you typed: hi\n');

    if (!qemuInstalled) return;
    const qemu = start('qemu', ['-serial', serial('qs.sock'), '-qmp', `unix:${join(folder, 'qq.sock')},server=on,wait=off`]);
    await until(() => qemu.stderr().includes('\n'), 'QEMU\'s info line', 15_000);
    const qemuClient = await connectUnix(join(folder, 'qs.sock'));
    expect(normalized(filename).replace('s.sock', 'qs.sock')).toBe(normalized(await serialFilename(join(folder, 'qq.sock'))));
    qemuClient.destroy();
  });

  it('-serial tcp:HOST:PORT: connects to the test\'s server before the guest starts', { timeout: 60_000 }, async () => {
    const listen = async (): Promise<{ server: Server; port: number; peer: Promise<Socket> }> => {
      let accepted!: (socket: Socket) => void;
      const peer = new Promise<Socket>((resolve) => (accepted = resolve));
      const server = createServer(accepted);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { server, port: (server.address() as { port: number }).port, peer };
    };
    const test = await listen();
    try {
      const ours = start('tsvisor', ['-serial', `tcp:127.0.0.1:${test.port}`, '-qmp', `unix:${join(folder, 'q2.sock')},server=on,wait=off`]);
      const peer = await test.peer;
      const filename = await serialFilename(join(folder, 'q2.sock'));
      expect(filename).toBe(`tcp:127.0.0.1:${peer.remotePort} <-> 127.0.0.1:${test.port}`);
      const transcript = converse(peer, ours.exit);
      expect(await ours.exit).toBe(0);
      expect(await transcript).toBe('echo> you typed: hi\n');
      expect(ours.stderr()).toBe('');
    } finally {
      test.server.close();
    }

    if (!qemuInstalled) return;
    const forQemu = await listen();
    try {
      start('qemu', ['-serial', `tcp:127.0.0.1:${forQemu.port}`, '-qmp', `unix:${join(folder, 'qq2.sock')},server=on,wait=off`]);
      await forQemu.peer;
      expect(normalized(await serialFilename(join(folder, 'qq2.sock')))).toBe('tcp:127.0.0.1:P <-> 127.0.0.1:P');
    } finally {
      forQemu.server.close();
    }
  });

  it('-serial pty: names the pty on stdout; a program on the slave talks to the guest', { timeout: 60_000 }, async () => {
    const ours = start('tsvisor', ['-serial', 'pty', '-qmp', `unix:${join(folder, 'q3.sock')},server=on,wait=off`]);
    await until(() => ours.stdout().includes('\n'), 'the pty\'s line', 15_000);
    const slavePath = /^char device redirected to (\/dev\/pts\/\d+) \(label serial0\)\n$/.exec(ours.stdout())?.[1];
    expect(slavePath, ours.stdout()).toBeDefined();
    const filename = await serialFilename(join(folder, 'q3.sock'));
    expect(filename).toBe(`pty:${slavePath}`);
    const fd = openSync(slavePath as string, O_RDWR | O_NOCTTY);
    const slave = new ReadStream(fd);
    try {
      const transcript = converse(slave, ours.exit);
      expect(await ours.exit).toBe(0);
      // Raw, as QEMU makes its pty: the guest's "\n" arrives as it is.
      expect(await transcript).toBe('echo> you typed: hi\n');
    } finally {
      slave.destroy();
      closeSync(fd);
    }

    if (!qemuInstalled) return;
    const qemu = start('qemu', ['-serial', 'pty', '-qmp', `unix:${join(folder, 'qq3.sock')},server=on,wait=off`]);
    await until(() => qemu.stdout().includes('\n'), 'QEMU\'s pty line', 15_000);
    expect(normalized(await serialFilename(join(folder, 'qq3.sock')))).toBe(normalized(filename));
  });
});

describeKvm('the bench guest over each chardev, against QEMU 7.2 with KVM', () => {
  let tscKhz = '';
  /** The bench guest as test/qemu/qemu-oracle.test.ts boots it: it prints three lines and writes 0 to the isa-debug-exit (status 1). */
  const bench = (command: 'qemu' | 'tsvisor', serial: readonly string[]) =>
    spawnStarted(command === 'qemu' ? QEMU : process.execPath, [
      ...(command === 'qemu' ? [] : [TSVISOR_QEMU]),
      '-enable-kvm', '-cpu', 'host,-arch-capabilities', '-m', '16', '-nographic', '-nodefaults', '-fw_cfg', 'name=etc/sercon-port,string=0',
      '-device', 'isa-debug-exit,iobase=0xf4,iosize=4', '-kernel', 'guests/build/bench.elf32', '-append', `ops=none,bogus tsc_khz=${tscKhz}`, ...serial,
    ]);
  const expected = () => `bench guest ready tsc_khz=${tscKhz}\nbench op=bogus error=unknown-op\nbench done\n`;

  beforeAll(async () => {
    const probe = bench('tsvisor', ['-serial', 'stdio']);
    await probe.exit;
    tscKhz = /tsc_khz=(\d+)/.exec(probe.stdout())?.[1] ?? '';
    expect(tscKhz).toMatch(/^\d+$/);
  });

  /** What the guest printed over `serial` and the status, under `command`; `peer` connects the test's end once the process has started. */
  async function transcript(command: 'qemu' | 'tsvisor', serial: readonly string[], peer: (started: Started) => Promise<NodeJS.ReadableStream>) {
    const started = bench(command, serial);
    const bytes = allOf(await peer(started));
    return { status: await started.exit, bytes: await bytes };
  }

  it.runIf(qemuInstalled)('unix:PATH,server=on: the same bytes to the client, the same status', { timeout: 60_000 }, async () => {
    const run = (command: 'qemu' | 'tsvisor') => {
      const path = join(folder, `bench-${command}.sock`);
      return transcript(command, ['-serial', `unix:${path},server=on`], async (started) => {
        await until(() => started.stderr().includes('waiting for connection'), 'the info line', 15_000);
        return connectUnix(path);
      });
    };
    const [qemu, ours] = [await run('qemu'), await run('tsvisor')];
    expect({ qemu, ours }).toEqual({ qemu: { status: 1, bytes: expected() }, ours: qemu });
  });

  it.runIf(qemuInstalled)('unix:PATH,server=on,wait=off with no client: the output is dropped, the guest never waits; the same status', { timeout: 60_000 }, async () => {
    const run = async (command: 'qemu' | 'tsvisor') => {
      const started = bench(command, ['-serial', `unix:${join(folder, `nobody-${command}.sock`)},server=on,wait=off`]);
      return { status: await started.exit, stdout: started.stdout() };
    };
    const [qemu, ours] = [await run('qemu'), await run('tsvisor')];
    expect(qemu).toEqual({ status: 1, stdout: '' });
    expect(ours).toEqual(qemu);
  });

  it.runIf(qemuInstalled)('tcp:127.0.0.1:PORT (a client): the same bytes to the test\'s server', { timeout: 60_000 }, async () => {
    const run = async (command: 'qemu' | 'tsvisor') => {
      let accepted!: (socket: Socket) => void;
      const peer = new Promise<Socket>((resolve) => (accepted = resolve));
      const server = createServer(accepted);
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      try {
        return await transcript(command, ['-serial', `tcp:127.0.0.1:${(server.address() as { port: number }).port}`], () => peer);
      } finally {
        server.close();
      }
    };
    const [qemu, ours] = [await run('qemu'), await run('tsvisor')];
    expect({ qemu, ours }).toEqual({ qemu: { status: 1, bytes: expected() }, ours: qemu });
  });

  it.runIf(qemuInstalled)('pty: the same bytes to a program that opens the slave late (the guest waits for it in both)', { timeout: 60_000 }, async () => {
    const run = (command: 'qemu' | 'tsvisor') =>
      transcript(command, ['-serial', 'pty'], async (started) => {
        await until(() => started.stdout().includes('\n'), 'the pty\'s line', 15_000);
        await new Promise((resolve) => setTimeout(resolve, 500)); // the guest has long printed by now
        return Readable.from([readUntilHangup(/redirected to (\S+)/.exec(started.stdout())?.[1] as string)]);
      });
    const [qemu, ours] = [await run('qemu'), await run('tsvisor')];
    // QEMU closes its master as soon as the guest ends, and the kernel then discards what the
    // reader had not read yet (a byte, a line or all of it, now and then); tsvisor lets the
    // reader take it first. So QEMU's bytes are a start of the guest's, which tsvisor delivers whole.
    expect(ours).toEqual({ status: 1, bytes: expected() });
    expect(qemu.status).toBe(1);
    expect(expected().startsWith(qemu.bytes), JSON.stringify(qemu.bytes)).toBe(true);
  });
});

/**
 * What a pty's slave gives until its master is gone (EIO), read as a terminal program reads
 * it: blocking reads, which get every byte the master wrote before closing (the event loop's
 * non-blocking reader sometimes saw the hangup first). The test's event loop waits meanwhile.
 */
function readUntilHangup(path: string): Buffer {
  const fd = openSync(path, O_RDWR | O_NOCTTY);
  const chunks: Buffer[] = [];
  try {
    for (;;) {
      const chunk = Buffer.alloc(4096);
      const count = readSync(fd, chunk);
      if (count === 0) break;
      chunks.push(chunk.subarray(0, count));
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EIO') throw error;
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks);
}
