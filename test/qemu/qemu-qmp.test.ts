/**
 * tsvisor-qemu's -qmp, with a real guest under KVM: the same QMP server as tsvisor run --qmp
 * (test/qmp/), reached through QEMU's option. The echo guest (a flat image, which the QEMU
 * front end loads at 0x8000 as tsvisor's configs do) waits for a line on COM1, so it runs
 * until QMP ends it: query-status says running, and quit ends tsvisor-qemu with status 0 and
 * the SHUTDOWN event QEMU sends for it ("host-qmp-quit").
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { QmpClient } from '../../src/qmp/client.js';
import { formatJson } from '../../src/qmp/json-format.js';
import type { JsonObject } from '../../src/qmp/json-value.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO } from '../helpers/tsvisor.js';

const TSVISOR_QEMU = join(REPO, 'dist/bundle/tsvisor-qemu.js');
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qemu-qmp-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeKvm('tsvisor-qemu -qmp, with a real guest', () => {
  it('serves QMP on the socket -qmp names: query-status, then quit ends the VM with SHUTDOWN and status 0', { timeout: 60_000 }, async () => {
    const path = join(folder, 'qmp.sock');
    const child = spawn(process.execPath, [TSVISOR_QEMU, '-nodefaults', '-display', 'none', '-serial', 'stdio', '-kernel', 'guests/build/echo.bin', '-qmp', `unix:${path},server,wait`], { cwd: REPO });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const exit = new Promise<number | null>((resolve) => child.on('close', resolve));
    try {
      // The legacy "server,wait": the guest starts once the first client has connected.
      while (!stderr.includes('waiting for a QMP connection')) await new Promise((resolve) => child.stderr.once('data', resolve));
      const events: string[] = [];
      const client = await QmpClient.connect({ transport: 'unix', path }, (event: JsonObject) => {
        events.push(formatJson(new Map([...event].filter(([key]) => key !== 'timestamp'))));
      });
      while (!stdout.includes('echo> ')) await new Promise((resolve) => child.stdout.once('data', resolve));
      const status = await client.execute('query-status');
      expect('return' in status && formatJson(status.return)).toBe('{"status": "running", "singlestep": false, "running": true}');
      const quit = await client.execute('quit');
      expect('return' in quit && formatJson(quit.return)).toBe('{}');
      expect(await exit).toBe(0);
      expect(events).toEqual(['{"event": "SHUTDOWN", "data": {"guest": false, "reason": "host-qmp-quit"}}']);
      expect(stdout).toBe('echo> ');
      expect(stderr).toBe(`tsvisor-qemu: waiting for a QMP connection on unix:${path},server=on\n`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
