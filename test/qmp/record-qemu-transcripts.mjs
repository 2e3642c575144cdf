#!/usr/bin/env node
// Records QEMU 7.2's replies to the sessions in qemu-sessions.json into qemu-transcripts.json,
// the oracle qemu-sessions.test.ts holds tsvisor's QMP server to. Run it by hand where
// qemu-system-x86_64 and /dev/kvm are:  node test/qmp/record-qemu-transcripts.mjs [session...]
// (slow sessions, such as the 64 MiB token, only when named). After each write it collects what
// every client receives until the clients have been quiet for a while (500 ms; a step's waitMs
// first waits that long for anything at all, for input QEMU takes minutes to lex); a client
// whose connection ends gets "<EOF>". QEMU's socket takes one client at a time, so a session with
// two clients gives QEMU a socket for each (tsvisor serves both on one).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const here = new URL('.', import.meta.url);
const sessions = JSON.parse(readFileSync(new URL('qemu-sessions.json', here), 'utf8'));
const outFile = new URL('qemu-transcripts.json', here);
const out = existsSync(outFile) ? JSON.parse(readFileSync(outFile, 'utf8')) : { sessions: {} };
out.recordedWith = execFileSync('qemu-system-x86_64', ['--version'], { encoding: 'utf8' }).split('\n')[0];
const wanted = process.argv.slice(2);

export function sendBytes(send) {
  const parts = Array.isArray(send) ? send : [send];
  return Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part, 'latin1') : Buffer.from(part.repeat.repeat(part.times), 'latin1'))));
}

async function record(session) {
  const folder = mkdtempSync(join(tmpdir(), 'qmp-record-'));
  const clientCount = session.steps.some((step) => step.connect !== undefined) ? 2 : 1;
  const paths = Array.from({ length: clientCount }, (_unused, index) => join(folder, `qmp${index}.sock`));
  const qmpOptions = paths.flatMap((path) => ['-qmp', `unix:${path},server=on,wait=off`]);
  const qemu = spawn('qemu-system-x86_64', ['-display', 'none', '-nodefaults', ...sessions.machines[session.machine], ...qmpOptions], { stdio: 'ignore' });
  while (!paths.every((path) => existsSync(path))) await new Promise((resolve) => setTimeout(resolve, 20));
  const clients = [];
  let lastData = Date.now();
  const open = () => {
    const client = { lines: [], pending: '' };
    client.socket = connect(paths[clients.length]);
    client.socket.setEncoding('latin1');
    client.socket.on('data', (text) => {
      lastData = Date.now();
      client.pending += text;
      const lines = client.pending.split('\r\n');
      client.pending = lines.pop();
      client.lines.push(...lines.map((line) => Buffer.from(line, 'latin1').toString('utf8')));
    });
    client.socket.on('error', () => {}); // QEMU may reset the connection as it exits after quit; 'close' follows
    client.socket.on('close', () => client.lines.push('<EOF>'));
    clients.push(client);
  };
  const quiet = async (waitMs) => {
    const start = Date.now();
    lastData = start;
    while (lastData === start && Date.now() - start < waitMs) await new Promise((resolve) => setTimeout(resolve, 50));
    while (Date.now() - lastData < 500) await new Promise((resolve) => setTimeout(resolve, 50));
  };
  const take = () => clients.map((client) => client.lines.splice(0));
  open();
  await quiet(0);
  const transcript = { greeting: take()[0], steps: [] };
  for (const step of session.steps) {
    if (step.connect !== undefined) open();
    else clients[step.client ?? 0].socket.write(sendBytes(step.send));
    await quiet(step.waitMs ?? 0);
    transcript.steps.push(take());
  }
  qemu.kill('SIGKILL'); // a QEMU busy lexing a large message would take its time over SIGTERM
  rmSync(folder, { recursive: true, force: true });
  return transcript;
}

for (const session of sessions.sessions) {
  if (wanted.length ? !wanted.includes(session.name) : session.slow) continue;
  process.stdout.write(`${session.name}...\n`);
  out.sessions[session.name] = await record(session);
}
writeFileSync(outFile, `${JSON.stringify(out, null, 1)}\n`);
