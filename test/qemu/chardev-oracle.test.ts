/**
 * COM1's character devices against QEMU 7.2, with no guest running: the same command line
 * under qemu-system-x86_64 -accel tcg and tsvisor-qemu, and what each prints before its guest
 * would start: errors (status 1, same words), a server's "QEMU waiting for connection on"
 * line, a pty's "char device redirected to" line (stdout, in both). tsvisor-qemu opens COM1's
 * chardev before it makes the VM, so none of this needs KVM.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { REPO } from '../helpers/tsvisor.js';
import { describeWithQemu, messages, QEMU, run, TSVISOR_QEMU } from './oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-chardev-oracle-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const KERNEL = ['-kernel', 'guests/build/bench.elf32', '-nodefaults', '-display', 'none'];

/** Starts `command` and resolves with what it printed once `stream` shows `until`; the process is then killed, and gone (its socket free) before this resolves. */
function firstWords(command: 'qemu' | 'tsvisor', args: readonly string[], stream: 'stdout' | 'stderr', until: RegExp): Promise<string> {
  const [file, prefix] = command === 'qemu' ? [QEMU, ['-accel', 'tcg']] : [process.execPath, [TSVISOR_QEMU]];
  const child = spawn(file, [...prefix, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} did not print ${until} on ${stream}; it printed: ${text}`));
    }, 20_000);
    child[stream].setEncoding('utf8').on('data', (chunk: string) => {
      text += chunk;
      if (!until.test(text)) return;
      clearTimeout(timer);
      child.on('close', () => resolve(text));
      child.kill('SIGKILL');
    });
  });
}

describeWithQemu('COM1\'s chardevs, against QEMU 7.2', () => {
  it('fail as QEMU fails: the same words, status 1', () => {
    const socketPath = join(folder, 'nobody.sock');
    const cases: string[][] = [
      ['-serial', `unix:${socketPath}`],
      ['-serial', 'tcp:127.0.0.1:1'],
      ['-serial', 'tcp:localhost:1'],
      ['-chardev', `socket,id=s,path=${socketPath}`, '-serial', 'chardev:s'],
      ['-serial', `unix:${join(folder, 'no-folder', 's.sock')},server=on,wait=off`],
      ['-serial', 'chardev:foo'],
      ['-serial', 'file:/nonexist/out'],
      ['-serial', 'pipe:/nonexist/p'],
      ['-serial', 'bogus'],
      ['-serial', `unix:${socketPath},nowait`],
      ['-chardev', 'file,id=x', '-serial', 'chardev:x'],
      ['-chardev', 'pipe,id=x'],
      ['-chardev', 'socket,id=x,host=localhost'],
      ['-chardev', 'null,id=x', '-chardev', 'null,id=x'],
      ['-chardev', 'stdio,id=a', '-chardev', 'stdio,id=b'],
      ['-serial', 'stdio', '-chardev', 'stdio,id=b'],
      ['-chardev', 'bogus,id=x'],
      ['-chardev', 'stdio'],
    ];
    for (const args of cases) {
      const qemu = run('qemu', ['-accel', 'tcg', ...KERNEL, ...args]);
      const ours = run('tsvisor', [...KERNEL, ...args]);
      expect({ args, status: ours.status, stderr: messages(ours.stderr) }).toEqual({ args, status: qemu.status, stderr: messages(qemu.stderr) });
      expect(ours.status).toBe(1);
    }
  });

  it('say where a waiting server listens, as QEMU\'s info line', async () => {
    for (const serial of [`unix:${join(folder, 'wait.sock')},server=on`, 'tcp:localhost:45123,server', 'tcp::45124,server=on,wait=on']) {
      const args = [...KERNEL, '-serial', serial];
      // The first line: tsvisor makes its VM while it waits (here, outside describeKvm, that fails and says so next).
      const firstLine = (text: string) => messages(text).split('\n')[0];
      const qemu = firstLine(await firstWords('qemu', args, 'stderr', /\n/));
      const ours = firstLine(await firstWords('tsvisor', args, 'stderr', /\n/));
      expect(ours).toBe(qemu);
      expect(ours).toMatch(/: info: QEMU waiting for connection on: disconnected:(unix|tcp):/);
    }
  });

  it('name a pty on stdout, as QEMU does: "char device redirected to /dev/pts/N (label L)"', async () => {
    for (const args of [['-serial', 'pty'], ['-chardev', 'pty,id=c0', '-serial', 'chardev:c0']]) {
      const line = /^char device redirected to \/dev\/pts\/\d+ \(label (serial0|c0)\)\n/;
      const qemu = await firstWords('qemu', [...KERNEL, ...args], 'stdout', line);
      const ours = await firstWords('tsvisor', [...KERNEL, ...args], 'stdout', line);
      expect(ours.replace(/pts\/\d+/, 'pts/N')).toBe(qemu.replace(/pts\/\d+/, 'pts/N'));
    }
  });
});
