/**
 * tsvisor's QMP server against QEMU 7.2's replies to the same sessions (qemu-sessions.json,
 * recorded by record-qemu-transcripts.mjs into qemu-transcripts.json). Each session starts a
 * server on a unix socket, with a fake machine that looks like the QEMU machine the session
 * was recorded on, sends each step's bytes as QEMU got them, and reads exactly as many lines
 * from each client as QEMU sent: replies, errors, events and the end of the connection, in
 * order, compared as parsed JSON with timestamps, versions, thread ids and the socket path
 * made alike (transcript.ts). A final request on every open client shows nothing more came.
 * Parsed JSON loses what QEMU writes of numbers, so a reply's numeric id is compared as text
 * too (9007199254740993 stays exact, 0.1 is 0.10000000000000001, 1e400 is inf). Two kinds of
 * step compare less than everything, and say so: HMP's help lists and query-commands, whose
 * lines and names must each be among QEMU's (tsvisor has fewer commands).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startQmpServer } from '../../src/qmp/listen.js';
import { qmpVersion } from '../../src/qmp/version.js';
import { FakeMachine } from './fake-machine.js';
import { LineClient } from './line-client.js';
import { normalizeLine } from './transcript.js';

type Part = string | { readonly repeat: string; readonly times: number };
interface Step {
  readonly send?: Part | readonly Part[];
  readonly client?: number;
  readonly connect?: number;
  readonly compare?: 'lines-subset' | 'names-subset';
}
interface Session {
  readonly name: string;
  readonly compares: string;
  readonly machine: 'none' | 'pc2';
  readonly slow?: boolean;
  readonly steps: readonly Step[];
}
interface Transcript {
  readonly greeting: readonly string[];
  readonly steps: readonly (readonly (readonly string[])[])[];
}

const here = new URL('.', import.meta.url);
const sessions = JSON.parse(readFileSync(new URL('qemu-sessions.json', here), 'utf8')) as { sessions: Session[] };
const transcripts = JSON.parse(readFileSync(new URL('qemu-transcripts.json', here), 'utf8')) as { recordedWith: string; sessions: Record<string, Transcript> };
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qmp-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

function bytesOf(send: Part | readonly Part[]): Buffer {
  const parts = (Array.isArray(send) ? send : [send]) as readonly Part[];
  return Buffer.concat(parts.map((part) => Buffer.from(typeof part === 'string' ? part : part.repeat.repeat(part.times), 'latin1')));
}

function machineFor(session: Session, socketPath: string): FakeMachine {
  const monitor = { label: 'compat_monitor0', filename: `unix:${socketPath},server=on`, frontendOpen: true };
  if (session.machine === 'none') return new FakeMachine(undefined, '00000000-0000-0000-0000-000000000000', [], [monitor]);
  return new FakeMachine('myvm', '12345678-1234-1234-1234-123456789abc', [4242, 4243], [monitor, { label: 'serial0', filename: 'file', frontendOpen: true }]);
}

const returnLines = (line: string) => ((JSON.parse(line) as { return: string }).return.split('\r\n').filter((text) => text !== ''));
/** The names a query-commands reply lists, but tsvisor's own x-tsvisor-* commands (docs/qmp.md), which QEMU cannot have. */
const returnNames = (line: string) => (JSON.parse(line) as { return: { name: string }[] }).return.map(({ name }) => name).filter((name) => !name.startsWith('x-tsvisor-'));

describe(`QMP sessions against ${transcripts.recordedWith}`, () => {
  for (const session of sessions.sessions) {
    const transcript = transcripts.sessions[session.name];
    (transcript ? it : it.skip)(`${session.name}: ${session.compares}`, async () => {
      const path = join(folder, `${session.name}.sock`);
      const machine = machineFor(session, path);
      const service = await startQmpServer({ transport: 'unix', path, server: true, wait: false }, machine, { version: qmpVersion('0.1.0') });
      machine.onQuit = () => void service.close();
      const clients = [new LineClient(path)];
      const expectLines = (actual: readonly string[], expected: readonly string[], what: string) =>
        expect(actual.map((line) => normalizeLine(line, path)), what).toEqual(expected.map((line) => normalizeLine(line, path)));
      try {
        const t = transcript as Transcript;
        expectLines(await clients[0]!.lineCount(t.greeting.length), t.greeting, 'the greeting');
        for (const [index, step] of session.steps.entries()) {
          if (step.connect !== undefined) clients.push(new LineClient(path));
          else clients[step.client ?? 0]!.write(bytesOf(step.send as Part));
          for (const [client, expected] of (t.steps[index] ?? []).entries()) {
            const actual = await clients[client]!.lineCount(expected.length);
            const what = `step ${index} (${JSON.stringify(step.send ?? step).slice(0, 120)}), client ${client}`;
            if (step.compare === 'lines-subset') expect(QEMU_HAS(returnLines(actual[0]!), returnLines(expected[0]!)), what).toEqual([]);
            else if (step.compare === 'names-subset') expect(QEMU_HAS(returnNames(actual[0]!), returnNames(expected[0]!)), what).toEqual([]);
            else {
              expectLines(actual, expected, what);
              expect(actual.map(numericId), `${what}: numeric ids as text`).toEqual(expected.map(numericId));
            }
          }
        }
        // Nothing more than QEMU sent: the next line on each open client is the reply to one more request.
        for (const client of clients.filter((open) => !open.ended)) {
          client.write('{"execute":"query-status","id":"end-of-session"}\n');
          expect(JSON.parse(await client.line()), 'the line after the session').toMatchObject({ id: 'end-of-session' });
        }
      } finally {
        for (const client of clients) client.close();
        await service.close();
      }
    });
  }
});

/** The text of a reply's id when it is a number, as QEMU wrote it. */
function numericId(line: string): string | undefined {
  return /"id": (-?(?:\d|inf)[^,}]*)/.exec(line)?.[1];
}

/** What tsvisor has that QEMU has not (empty when every item is among QEMU's). */
function QEMU_HAS(ours: readonly string[], qemus: readonly string[]): string[] {
  return ours.filter((item) => !qemus.includes(item));
}
