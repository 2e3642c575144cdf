/**
 * One human monitor (HMP) session on a character stream, as QEMU 7.2 runs one on a terminal or
 * socket: its greeting, the "(qemu) " prompt, line editing (line-editor.ts), and each entered
 * line run as a command (src/qmp/hmp.ts, shared with QMP's human-monitor-command), one at a time
 * in the order typed. QEMU's monitor turns every "\n" it prints into "\r\n"; hmp.ts's text
 * already ends its lines so.
 */
import type { MuxMonitor } from '../chardev/mux.js';
import type { MachineActions } from '../qmp/machine-actions.js';
import { runHmp } from '../qmp/hmp.js';
import type { QmpVersion } from '../qmp/version.js';
import { LineEditor } from './line-editor.js';

const PROMPT = '(qemu) ';

export interface HumanMonitorOptions {
  readonly actions: MachineActions;
  readonly version: QmpVersion;
  /** Writes the monitor's output to its peer. */
  readonly write: (text: string) => void;
  /** The session ends (quit): called once its last output is written. */
  readonly onQuit?: () => void;
}

export class HumanMonitor implements MuxMonitor {
  private readonly editor = new LineEditor();
  /** Input not yet taken by the editor: it waits while a command runs. */
  private pending: number[] = [];
  private running = false;
  private ended = false;

  constructor(private readonly options: HumanMonitorOptions) {}

  /** QEMU's greeting, then the first prompt. */
  greet(): void {
    const { major, minor, micro } = this.options.version.qemu;
    this.options.write(`QEMU ${major}.${minor}.${micro} monitor - type 'help' for more information\r\n`);
    this.prompt();
  }

  /** On a mux: the monitor gets the focus, the first time with its greeting, later with a fresh prompt (a half-typed line is gone). */
  focusIn(first: boolean): void {
    if (first) this.greet();
    else this.prompt();
  }

  /** On a mux: the console gets the focus; QEMU ends the monitor's line. */
  focusOut(): void {
    this.options.write('\r\n');
  }

  private prompt(): void {
    this.editor.restart();
    this.options.write(PROMPT);
  }

  input(bytes: Uint8Array): void {
    if (this.ended) return;
    for (const byte of bytes) this.pending.push(byte);
    void this.process();
  }

  private async process(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0 && !this.ended) {
        const byte = this.pending.shift() as number;
        const { echo, line } = this.editor.feed(byte);
        if (echo !== '') this.options.write(echo);
        if (line !== undefined) await this.run(line);
      }
    } finally {
      this.running = false;
    }
  }

  private async run(line: string): Promise<void> {
    const afterReply: (() => void)[] = [];
    const output = await runHmp(line, { actions: this.options.actions, version: this.options.version, cpuIndex: 0, afterReply: (action) => afterReply.push(action) });
    if (output !== '') this.options.write(output);
    if (afterReply.length > 0) {
      // quit: no prompt follows; the session, and then the VM, end.
      this.ended = true;
      this.options.onQuit?.();
      for (const action of afterReply) action();
      return;
    }
    this.options.write(PROMPT);
  }
}
