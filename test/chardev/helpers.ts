/** Small tools for the backend tests: a hooks recorder, reading what a stream or socket delivers, waiting for a condition. */
import type { CharBackendHooks } from '../../src/chardev/char-backend.js';

export function recordingHooks(): CharBackendHooks & { readonly printed: string[]; readonly infos: string[] } {
  const printed: string[] = [];
  const infos: string[] = [];
  return { printed, infos, print: (line) => printed.push(line), info: (line) => infos.push(line) };
}

/** Collects what `stream` delivers, as text. */
export function collect(stream: NodeJS.ReadableStream): { text: () => string } {
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
  return { text: () => text };
}

export { until } from '../helpers/wait.js';

/** Writes all of `text` through a backend writer, as the serial drainer would (waiting when it is full). */
export async function writeAll(writer: { write(bytes: Uint8Array): number; whenWritable(ready: () => void): void }, text: string): Promise<void> {
  let bytes: Uint8Array = Buffer.from(text, 'latin1');
  while (bytes.length > 0) {
    const written = writer.write(bytes);
    bytes = bytes.subarray(written);
    if (written === 0) await new Promise<void>((resolve) => writer.whenWritable(resolve));
  }
}
