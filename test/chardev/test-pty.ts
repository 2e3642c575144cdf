/** A pseudo-terminal for tests that need a real terminal: its master (read in the event loop) and its slave's descriptor, to hand a child as its stdio. */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { REPO } from '../helpers/tsvisor.js';
import { fcntl, F_GETFL, F_SETFL, grantpt, O_CLOEXEC, O_NOCTTY, O_NONBLOCK, O_RDWR, posixOpenpt, ptsname, unlockpt } from '../../src/host/libc.js';

export interface TestPty {
  readonly slave: number;
  readonly slavePath: string;
  /** Everything the terminal showed so far (the child's output, with the line discipline's echo). */
  output(): string;
  /** Types `text` at the terminal. */
  type(text: string): void;
  close(): void;
}

export function openTestPty(): TestPty {
  const master = posixOpenpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0 || grantpt(master) !== 0 || unlockpt(master) !== 0) throw new Error('cannot make a pty');
  const slavePath = ptsname(master) as string;
  fcntl(master, F_SETFL, fcntl(master, F_GETFL, 0) | O_NONBLOCK);
  const slave = openSync(slavePath, O_RDWR | O_NOCTTY);
  const reader = new ReadStream(master);
  let text = '';
  reader.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  reader.on('error', () => {}); // EIO once every slave holder is gone
  return {
    slave,
    slavePath,
    output: () => text,
    type: (input) => reader.write(input),
    close: () => {
      reader.destroy();
      closeSync(slave);
    },
  };
}

/** `args` run by Node with a new pty as their controlling terminal and stdio (setsid -c), as a shell would run them; the caller kills the child and closes the pty. */
export function spawnOnPty(args: readonly string[]): { readonly child: ChildProcess; readonly exit: Promise<number | null>; readonly pty: TestPty } {
  const pty = openTestPty();
  const child = spawn('setsid', ['-c', process.execPath, ...args], { cwd: REPO, stdio: [pty.slave, pty.slave, pty.slave] });
  const exit = new Promise<number | null>((resolve) => child.on('close', (status) => resolve(status)));
  return { child, exit, pty };
}
