/** Runs the built tsvisor CLI (dist/bundle/cli.js, what the tsvisor command runs) as a child process, as a user would. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/bundle/cli.js', import.meta.url));

/** How long a timed-out tsvisor has, after SIGTERM, to stop its VM and report before SIGKILL: beyond its own 5 s for a stuck vCPU. */
const GRACE_MS = 7_000;

export interface TsvisorResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface TsvisorRunOptions {
  /** Bytes for the guest's serial input (stdin). stdin is closed when omitted. */
  readonly input?: string;
  /** Send `input` only once stdout shows this text (a prompt), as a person at the terminal would. */
  readonly inputAfter?: string;
  /**
   * Stop the child after this many milliseconds, a hung guest failing the test instead of hanging
   * it: SIGTERM first, so that tsvisor says what it was doing (a stuck vCPU is reported), then
   * SIGKILL. stderr then ends with a line saying so.
   */
  readonly timeoutMs?: number;
  /** Send this signal to tsvisor once stdout shows `signalAfter`. */
  readonly signal?: NodeJS.Signals;
  readonly signalAfter?: string;
  /** Run the command through this prefix (for example setpriv to drop privileges). */
  readonly prefix?: readonly string[];
}

/** How a run ended, for an assertion's message: what a failing test must show to be diagnosed. */
export function outcomeOf(result: TsvisorResult): string {
  return `tsvisor exited with ${result.status ?? result.signal}; its stderr:\n${result.stderr}`;
}

export function tsvisor(args: readonly string[], options: TsvisorRunOptions = {}): Promise<TsvisorResult> {
  const command = [...(options.prefix ?? []), process.execPath, CLI, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(command[0] as string, command.slice(1), { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let inputSent = false;
    let signalled = false;
    const sendInput = () => {
      inputSent = true;
      child.stdin.end(options.input ?? '');
    };
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (!inputSent && options.inputAfter !== undefined && stdout.includes(options.inputAfter)) sendInput();
      if (options.signal && !signalled && stdout.includes(options.signalAfter ?? '')) {
        signalled = true;
        child.kill(options.signal);
      }
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timeoutMs = options.timeoutMs ?? 20_000;
    let killer: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGTERM');
      killer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS);
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      clearTimeout(killer);
      if (killer) stderr += `(test helper: tsvisor did not end within ${timeoutMs} ms and was sent SIGTERM)\n`;
      resolve({ status, signal, stdout, stderr });
    });
    if (options.inputAfter === undefined) sendInput();
  });
}
