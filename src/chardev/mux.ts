/**
 * A terminal shared by the guest's console and the human monitor, as QEMU's mux chardev
 * (-serial mon:stdio, -nographic, -chardev ...,mux=on) shares it: input goes to the front end
 * that has the focus (the console at first), and Ctrl-A, the escape character, starts a
 * command (QEMU 7.2's wording and bytes, measured on a pty; test/chardev/mux.test.ts):
 *   Ctrl-A h or ?   the help text
 *   Ctrl-A x        "QEMU: Terminated", and the VM ends (status 0)
 *   Ctrl-A c        the focus moves between console and monitor
 *   Ctrl-A Ctrl-A   one Ctrl-A to the front end that has the focus
 *   Ctrl-A s, t, b  QEMU's disk save, timestamps and break: nothing here to act on
 * Any other key after Ctrl-A is dropped with it, as QEMU drops it. Output needs no mux: the
 * guest's and the monitor's both go to the terminal as they come.
 */
import { PassThrough } from 'node:stream';

const ESCAPE = 0x01;

/** What QEMU prints for Ctrl-A h: "\n\r" then a line each, ended "\n\r" (the terminal adds "\r" to "\n"). */
export const MUX_HELP =
  '\n\r' +
  [
    'C-a h    print this help',
    'C-a x    exit emulator',
    'C-a s    save disk data back to file (if -snapshot)',
    'C-a t    toggle console timestamps',
    'C-a b    send break (magic sysrq)',
    'C-a c    switch between console and monitor',
    'C-a C-a  sends C-a',
  ]
    .map((line) => `${line}\n\r`)
    .join('');

export const MUX_TERMINATED = 'QEMU: Terminated\n\r';

/** The monitor's side of the mux. */
export interface MuxMonitor {
  input(bytes: Uint8Array): void;
  /** The monitor has the focus: the first time its greeting, afterwards a fresh prompt. */
  focusIn(first: boolean): void;
  /** The console has the focus again. */
  focusOut(): void;
}

export interface MuxOptions {
  /** The monitor that Ctrl-A c switches to; without one (tsvisor run's console), Ctrl-A c does nothing. */
  readonly monitor?: MuxMonitor;
  /** Writes to the terminal (help text, the termination line). */
  readonly write: (text: string) => void;
  /** Ctrl-A x: end the VM. */
  readonly quit: () => void;
  /** What Ctrl-A x prints first: QEMU's "QEMU: Terminated" unless told otherwise. */
  readonly quitText?: string;
}

export class ConsoleMux {
  /** What the guest's console reads: the input meant for it. */
  readonly console = new PassThrough();
  private escaped = false;
  private monitorFocused = false;
  private monitorSeen = false;

  constructor(
    private readonly source: NodeJS.ReadableStream,
    private readonly options: MuxOptions,
  ) {
    source.on('data', this.onData);
    // The console's reader is slow (the UART's FIFO): the terminal waits rather than the mux buffering without bound.
    this.console.on('drain', () => source.resume());
  }

  close(): void {
    this.source.removeListener('data', this.onData);
    this.console.end();
  }

  private readonly onData = (chunk: Buffer | string): void => {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    let start = 0;
    for (let index = 0; index < bytes.length; index++) {
      const byte = bytes[index] as number;
      if (!this.escaped && byte !== ESCAPE) continue;
      this.deliver(bytes.subarray(start, index));
      start = index + 1;
      if (!this.escaped) {
        this.escaped = true;
        continue;
      }
      this.escaped = false;
      this.command(byte);
    }
    this.deliver(bytes.subarray(start));
  };

  private command(key: number): void {
    switch (String.fromCharCode(key)) {
      case '\x01':
        this.deliver(Uint8Array.of(ESCAPE));
        break;
      case 'h':
      case '?':
        this.options.write(MUX_HELP);
        break;
      case 'x':
        this.options.write(this.options.quitText ?? MUX_TERMINATED);
        this.options.quit();
        break;
      case 'c':
        this.switchFocus();
        break;
    }
  }

  private switchFocus(): void {
    const monitor = this.options.monitor;
    if (!monitor) return;
    this.monitorFocused = !this.monitorFocused;
    if (this.monitorFocused) {
      monitor.focusIn(!this.monitorSeen);
      this.monitorSeen = true;
    } else {
      monitor.focusOut();
    }
  }

  private deliver(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.monitorFocused) this.options.monitor?.input(bytes);
    else if (!this.console.write(bytes)) this.source.pause();
  }
}
