/**
 * A character device backend: where COM1's bytes leave the VM and where host input for it
 * comes from, as QEMU's -chardev/-serial backends (one file per backend here), opened from
 * the plain data the QEMU front end parsed (ChardevSpec) or tsvisor run's --serial.
 */
import { writeSync } from 'node:fs';
import type { OutputWriter } from '../host/output-writer.js';
import type { ChardevSpec } from '../qemu/invocation.js';
import { openFileBackend } from './file-backend.js';
import { openNullBackend } from './null-backend.js';
import { openPipeBackend } from './pipe-backend.js';
import { openPtyBackend } from './pty-backend.js';
import { openSocketClientBackend } from './socket-client-backend.js';
import { openSocketServerBackend } from './socket-server-backend.js';
import { openStdioBackend } from './stdio-backend.js';

const STDOUT = 1;
const STDERR = 2;

export interface CharBackend {
  /** As QEMU's query-chardev reports it. */
  readonly filename: string;
  /** Where the guest's output goes: never blocks (an OutputWriter, src/host/output-writer.ts). */
  readonly writer: OutputWriter;
  /** Host input for the guest, one stream for the backend's whole life (a server's successive clients feed the same stream), or undefined (file, null). */
  readonly input: NodeJS.ReadableStream | undefined;
  /** Resolves when the VM may start (a server with wait=on: once its first client connected). */
  ready(): Promise<void>;
  /** Gives everything back (terminal modes, sockets, fds); idempotent. */
  close(): void;
}

/** What opening a backend says to its user (QEMU's "char device redirected to ..." and info lines). */
export interface CharBackendHooks {
  /** A line for stdout, as QEMU prints the pty's name. */
  readonly print: (line: string) => void;
  /** An informational line for stderr, as QEMU's "info: QEMU waiting for connection on: ...". */
  readonly info: (line: string) => void;
}

/** QEMU's own way: the pty's line on stdout, info lines on stderr. */
export const PLAIN_HOOKS: CharBackendHooks = {
  print: (line) => writeSync(STDOUT, `${line}\n`),
  info: (line) => writeSync(STDERR, `info: ${line}\n`),
};

/**
 * The backend `spec` describes, opened: files created, sockets listening or connected, the
 * terminal in raw mode. `label` names it as QEMU does (serial0, or the -chardev's id);
 * `hooks` say what opening it prints (the QEMU front end puts its program and option first).
 * Failures are ChardevOpenErrors, in QEMU's words, for the front end to put after the option.
 */
export async function openCharBackend(spec: ChardevSpec, label: string, hooks: CharBackendHooks = PLAIN_HOOKS): Promise<CharBackend> {
  switch (spec.backend) {
    case 'stdio':
      return openStdioBackend(spec.signal);
    case 'null':
      return openNullBackend();
    case 'file':
      return openFileBackend(spec.path, spec.append);
    case 'pipe':
      return openPipeBackend(spec.path);
    case 'pty':
      return openPtyBackend(label, hooks);
    case 'socket':
      return spec.server ? openSocketServerBackend(spec.address, spec.wait, hooks) : openSocketClientBackend(spec.address);
  }
}
