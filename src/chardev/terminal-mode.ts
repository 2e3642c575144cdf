/**
 * The terminal in raw mode while the VM runs, as QEMU's stdio backend puts it: every key goes
 * to the guest as it is typed (no line editing, no echo: the guest echoes), while ISIG stays on
 * with signal=on so that Ctrl-C still stops tsvisor. Node's setRawMode would clear ISIG too,
 * hence termios through libc (host/libc.ts).
 *
 * The saved modes come back on every way out: restore() (the backend's close, on a normal end
 * and after SIGINT/SIGTERM), the process's 'exit' hook (an uncaught exception), and, should
 * tsvisor be killed outright (SIGKILL, a crash of the process), a guardian: a small shell
 * process that holds the saved modes and applies them with stty when tsvisor's end of a pipe
 * closes without restore() having dismissed it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { isatty } from 'node:tty';
import { describeErrno } from '../host/errno.js';
import { cfmakeraw, errno, tcgetattr, tcsetattr, TCSANOW } from '../host/libc.js';

/** glibc's struct termios: four 32-bit flag words, c_line, then c_cc (checked with sizeof/offsetof in C). */
const TERMIOS_SIZE = 60;
const IFLAG = 0;
const OFLAG = 4;
const LFLAG = 12;
const CC = 17;
const VTIME = 5;
const VMIN = 6;

export const TermiosFlags = {
  IGNBRK: 0o1, BRKINT: 0o2, PARMRK: 0o10, ISTRIP: 0o40, INLCR: 0o100, IGNCR: 0o200, ICRNL: 0o400, IXON: 0o2000,
  OPOST: 0o1,
  ISIG: 0o1, ICANON: 0o2, ECHO: 0o10, ECHONL: 0o100, IEXTEN: 0o100000,
} as const;
const F = TermiosFlags;

/** A terminal's flags, as tests and callers read them. */
export interface TermiosModes {
  readonly iflag: number;
  readonly oflag: number;
  readonly lflag: number;
}

/** The terminal on `fd`'s flags (iflag, oflag, lflag). */
export function terminalModes(fd: number): TermiosModes {
  const termios = readTermios(fd);
  const view = new DataView(termios.buffer);
  return { iflag: view.getUint32(IFLAG, true), oflag: view.getUint32(OFLAG, true), lflag: view.getUint32(LFLAG, true) };
}

export class RawTerminal {
  private restored = false;
  private readonly onExit = () => this.restore();

  private constructor(
    private readonly fd: number,
    private readonly saved: Uint8Array,
    private readonly guardian: ChildProcess | undefined,
  ) {
    process.on('exit', this.onExit);
  }

  /** `fd`'s terminal in raw mode (ISIG kept when `keepSignals`), or undefined when `fd` is not a terminal. */
  static enter(fd: number, keepSignals: boolean): RawTerminal | undefined {
    if (!isatty(fd)) return undefined;
    const saved = readTermios(fd);
    const raw = saved.slice();
    const view = new DataView(raw.buffer);
    const update = (offset: number, change: (flags: number) => number) => view.setUint32(offset, change(view.getUint32(offset, true)) >>> 0, true);
    update(IFLAG, (flags) => flags & ~(F.IGNBRK | F.BRKINT | F.PARMRK | F.ISTRIP | F.INLCR | F.IGNCR | F.ICRNL | F.IXON));
    update(OFLAG, (flags) => flags | F.OPOST);
    update(LFLAG, (flags) => flags & ~(F.ECHO | F.ECHONL | F.ICANON | F.IEXTEN | (keepSignals ? 0 : F.ISIG)));
    raw[CC + VMIN] = 1;
    raw[CC + VTIME] = 0;
    const guardian = startGuardian(fd);
    writeTermios(fd, raw);
    return new RawTerminal(fd, saved, guardian);
  }

  /** Puts the saved modes back; idempotent. */
  restore(): void {
    if (this.restored) return;
    this.restored = true;
    process.removeListener('exit', this.onExit);
    // Dismissed first: a guardian that outlived this restore could undo what the shell sets next.
    if (this.guardian?.pid !== undefined && this.guardian.exitCode === null) this.guardian.kill('SIGKILL');
    tcsetattr(this.fd, TCSANOW, this.saved);
  }
}

/**
 * The terminal on `fd` made fully raw (cfmakeraw: no echo, no line editing, no signals, no
 * output processing), as QEMU makes a pty it creates. On a pty's master this sets the slave's
 * modes (Linux applies termios requests on a master to its slave), with no need to open it.
 */
export function makeRaw(fd: number): void {
  const termios = readTermios(fd);
  cfmakeraw(termios);
  writeTermios(fd, termios);
}

function readTermios(fd: number): Uint8Array {
  const termios = new Uint8Array(TERMIOS_SIZE);
  if (tcgetattr(fd, termios) !== 0) throw new Error(`tcgetattr on descriptor ${fd} failed: ${describeErrno(errno())}`);
  return termios;
}

function writeTermios(fd: number, termios: Uint8Array): void {
  if (tcsetattr(fd, TCSANOW, termios) !== 0) throw new Error(`tcsetattr on descriptor ${fd} failed: ${describeErrno(errno())}`);
}

/**
 * The guardian: it reads its stdin, a pipe whose other end only tsvisor holds, and when that
 * ends (tsvisor is gone) applies the saved modes to the terminal (its descriptor 3). It
 * ignores the terminal's signals, which reach the whole foreground process group. Undefined
 * when stty cannot be run: the 'exit' hook still covers everything but a killed process.
 */
function startGuardian(fd: number): ChildProcess | undefined {
  try {
    const saved = execFileSync('stty', ['-g'], { stdio: [fd, 'pipe', 'ignore'], encoding: 'utf8' }).trim();
    const guardian = spawn('/bin/sh', ['-c', 'trap "" INT QUIT TSTP HUP TERM; read line; stty "$1" <&3', 'tsvisor-terminal-guardian', saved], {
      stdio: ['pipe', 'ignore', 'ignore', fd],
    });
    guardian.on('error', () => {});
    guardian.unref();
    (guardian.stdin as unknown as { unref?: () => void } | null)?.unref?.();
    return guardian;
  } catch {
    return undefined;
  }
}
