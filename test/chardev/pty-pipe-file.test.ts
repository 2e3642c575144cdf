/**
 * The pty, pipe, file and null backends without a VM. QEMU 7.2, compared: "-serial pty" prints
 * "char device redirected to /dev/pts/N (label serial0)" on stdout (not stderr) and
 * query-chardev says "pty:/dev/pts/N"; -serial pipe:PATH uses PATH.in and PATH.out when both
 * exist, and query-chardev says "pipe"; -serial file: says "file", -serial null "null".
 */
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { ReadStream } from 'node:tty';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCharBackend } from '../../src/chardev/char-backend.js';
import { O_NOCTTY, O_RDWR } from '../../src/host/libc.js';
import { collect, recordingHooks, until, writeAll } from './helpers.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-chardev-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('pty', () => {
  it('prints QEMU\'s line with the slave\'s path, carries bytes both ways through the slave, and holds output while no program has it open', async () => {
    const hooks = recordingHooks();
    const backend = await openCharBackend({ backend: 'pty' }, 'serial0', hooks);
    try {
      const slavePath = backend.filename.slice('pty:'.length);
      expect(hooks.printed).toEqual([`char device redirected to ${slavePath} (label serial0)`]);
      expect(slavePath).toMatch(/^\/dev\/pts\/\d+$/);
      const input = collect(backend.input!);
      // Written before any program opened the slave: it waits for the first reader.
      let held = writeAll(backend.writer, 'echo> ');
      for (const round of [1, 2]) {
        const fd = openSync(slavePath, O_RDWR | O_NOCTTY);
        const slave = new ReadStream(fd); // libuv reads through a descriptor of its own: `fd` is closed below
        const got = collect(slave);
        await held;
        await until(() => got.text() === (round === 1 ? 'echo> ' : 'held while closed\n'), `round ${round}'s output held for it`);
        await writeAll(backend.writer, `round ${round}\n`);
        await until(() => got.text().endsWith(`round ${round}\n`), `round ${round}'s output`);
        slave.write(`typed ${round}\n`);
        await until(() => input.text().endsWith(`typed ${round}\n`), `round ${round}'s input`);
        slave.destroy();
        await new Promise((resolve) => slave.once('close', resolve));
        closeSync(fd);
        // Nobody has the slave open: the output waits (QEMU 7.2's guest waits too), neither lost nor blocking.
        expect(backend.writer.write(Buffer.from('x'))).toBe(0);
        held = writeAll(backend.writer, 'held while closed\n');
      }
      expect(input.text()).toBe('typed 1\ntyped 2\n');
    } finally {
      backend.close();
    }
  });

  it('labels its line with a -chardev\'s id, as QEMU does', async () => {
    const hooks = recordingHooks();
    const backend = await openCharBackend({ backend: 'pty' }, 'c0', hooks);
    backend.close();
    expect(hooks.printed[0]).toMatch(/^char device redirected to \/dev\/pts\/\d+ \(label c0\)$/);
  });
});

describe('pipe', () => {
  it('uses PATH.in and PATH.out when both exist', async () => {
    const path = join(folder, 'split');
    execFileSync('mkfifo', [`${path}.in`, `${path}.out`]);
    const backend = await openCharBackend({ backend: 'pipe', path }, 'serial0', recordingHooks());
    try {
      expect(backend.filename).toBe('pipe');
      const input = collect(backend.input!);
      const toGuest = openSync(`${path}.in`, 'w');
      writeFileSync(toGuest, 'typed\n');
      closeSync(toGuest);
      await until(() => input.text() === 'typed\n', 'the input from PATH.in');
      const fromGuest = new ReadStream(openSync(`${path}.out`, 'r')); // a FIFO: read in the event loop
      const got = collect(fromGuest);
      await writeAll(backend.writer, 'printed\n');
      await until(() => got.text() === 'printed\n', 'the output on PATH.out');
      fromGuest.destroy();
    } finally {
      backend.close();
    }
  });

  it('uses PATH both ways otherwise, and fails as QEMU when it is missing', async () => {
    const path = join(folder, 'single');
    writeFileSync(path, '');
    const backend = await openCharBackend({ backend: 'pipe', path }, 'serial0', recordingHooks());
    await writeAll(backend.writer, 'printed\n');
    backend.close();
    expect(readFileSync(path, 'utf8')).toBe('printed\n');
    await expect(openCharBackend({ backend: 'pipe', path: join(folder, 'none') }, 'serial0', recordingHooks())).rejects.toThrow(`Could not open '${join(folder, 'none')}': No such file or directory`);
  });
});

describe('file and null', () => {
  it('truncates a file, or appends with append=on', async () => {
    const path = join(folder, 'out.txt');
    writeFileSync(path, 'before\n');
    const appending = await openCharBackend({ backend: 'file', path, append: true }, 'serial0', recordingHooks());
    await writeAll(appending.writer, 'appended\n');
    appending.close();
    appending.close(); // idempotent
    expect(readFileSync(path, 'utf8')).toBe('before\nappended\n');
    const truncating = await openCharBackend({ backend: 'file', path, append: false }, 'serial0', recordingHooks());
    expect([truncating.filename, truncating.input]).toEqual(['file', undefined]);
    await writeAll(truncating.writer, 'fresh\n');
    truncating.close();
    expect(readFileSync(path, 'utf8')).toBe('fresh\n');
    await expect(openCharBackend({ backend: 'file', path: '/nonexist/a', append: false }, 'serial0', recordingHooks())).rejects.toThrow("Could not open '/nonexist/a': No such file or directory");
  });

  it('null takes everything and gives nothing', async () => {
    const backend = await openCharBackend({ backend: 'null' }, 'serial0', recordingHooks());
    expect([backend.filename, backend.input, backend.writer.write(new Uint8Array(10))]).toEqual(['null', undefined, 10]);
    expect(existsSync(folder)).toBe(true);
    backend.close();
  });
});
