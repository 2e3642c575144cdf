/**
 * Domain XML under `tsvisor run`, on real KVM: the samples run; libvirt's lifecycle actions
 * (on_reboot restart and destroy, on_poweroff preserve); and the domain operations of
 * `tsvisor domain` against a running VM, with virsh's words and statuses (compared with
 * `virsh -c test:///default` for the words it shares: test/libvirt/read-domain.test.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { CLI, outcomeOf, REPO, tsvisor } from '../helpers/tsvisor.js';
import { until } from '../helpers/wait.js';
import { schemaErrors, xmllintInstalled } from './virsh-oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-domain-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** A copy of a sample in the test's folder, its paths made absolute and its text changed by `edit`. */
function sample(name: string, edit: (text: string) => string = (text) => text): string {
  const text = readFileSync(join(REPO, 'configs', name), 'utf8').replaceAll('../guests/build/', `${REPO}/guests/build/`);
  const path = join(folder, `${Math.random().toString(36).slice(2)}-${name}`);
  writeFileSync(path, edit(text));
  return path;
}

/** A domain for the reboot guest (guests/reboot: boots 1 and 2 triple-fault, boot 3 powers off). */
function rebootDomain(onReboot: string): string {
  const path = join(folder, `reboot-${onReboot}.xml`);
  writeFileSync(
    path,
    `<domain type='kvm'><name>reboot</name><memory unit='MiB'>16</memory><os><type>hvm</type><kernel>${REPO}/guests/build/reboot.elf32</kernel></os><on_reboot>${onReboot}</on_reboot><devices><serial type='stdio'/></devices></domain>\n`,
  );
  return path;
}

const domain = (socket: string, ...args: string[]) => tsvisor(['domain', socket, ...args]);

describeKvm('domain XML under tsvisor run', () => {
  it('hello: its line, and the guest\'s debug-exit status', async () => {
    const result = await tsvisor(['run', 'configs/hello-x86_64.xml']);
    expect(result.stdout).toBe('Hello from tsvisor guest\n');
    expect(result.status, outcomeOf(result)).toBe(43);
  });

  it('axtest: the ArceOS contract, booted as QEMU\'s multiboot loader boots it', async () => {
    const result = await tsvisor(['run', 'configs/axtest-x86_64.xml']);
    expect(result.stdout).toMatch(/\n10 passed, 0 failed\n$/);
    expect(result.status, outcomeOf(result)).toBe(0);
  });

  it('on_reboot restart: a triple fault reboots the guest (boots 1, 2, 3, then its power-off); destroy: the run ends at the first', async () => {
    const restart = await tsvisor(['run', rebootDomain('restart')]);
    expect(restart.stdout).toBe('reboot: boot 1\nreboot: boot 2\nreboot: boot 3\n');
    expect(restart.status, outcomeOf(restart)).toBe(0);
    const destroy = await tsvisor(['run', rebootDomain('destroy')]);
    expect(destroy.stdout).toBe('reboot: boot 1\n');
    expect(destroy.status, outcomeOf(destroy)).toBe(4);
  });

  it('setvcpus: plugs vCPU 1 in (the guest starts it), refuses above the maximum; setmem live needs a balloon; dominfo and dumpxml', { timeout: 60_000 }, async () => {
    const socket = join(folder, 'plug.sock');
    const xml = sample('vcpu-plug-x86_64.xml', (text) => text.replaceAll('/tmp/tsvisor-vcpu-plug.sock', socket));
    const child = spawn(process.execPath, [CLI, 'run', xml], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    // The guest has tried vCPU 1 once, and found it absent.
    await until(() => stdout.includes('cpu 1 absent\n'), 'vCPU 1 found absent', 30_000);
    const info = await domain(socket, 'dominfo');
    expect(info.stdout).toMatch(/^Id: {13}1\nName: {11}vcpu-plug\nUUID: {11}[0-9a-f-]{36}\nOS Type: {8}hvm\nState: {10}running\nCPU\(s\): {9}1\nCPU time: {7}\d+\.\ds\nMax memory: {5}16384 KiB\nUsed memory: {4}16384 KiB\n/);
    const above = await domain(socket, 'setvcpus', '3');
    expect([above.status, above.stderr]).toEqual([1, 'error: invalid argument: requested cpu amount exceeds maximum (3 > 2)\n\n']);
    const memory = await domain(socket, 'setmem', '8M');
    expect([memory.status, memory.stderr]).toEqual([1, 'error: Unable to change memory of active domain without the balloon device and guest OS balloon driver\n\n']);
    expect((await domain(socket, 'setmem', '8M', '--config')).status).toBe(0);
    const live = await domain(socket, 'dumpxml');
    expect(live.stdout).toMatch(/^<domain type='kvm' id='1' [^>]*>\n/);
    expect(live.stdout).toContain("<vcpu placement='static' current='1'>2</vcpu>");
    expect((await domain(socket, 'dumpxml', '--inactive')).stdout).toContain("<currentMemory unit='KiB'>8192</currentMemory>");
    if (xmllintInstalled) expect(schemaErrors(live.stdout)).toBe('');
    expect((await domain(socket, 'setvcpus', '2')).status).toBe(0);
    expect(await ended).toBe(0);
    expect(stdout).toBe('vcpu-plug: 2 cpus, 1 at boot\ncpu 1 absent\ncpu 1 online\nall cpus online\n');
  });

  it('setvcpus does not take away a vCPU the guest runs; suspend, resume and destroy say what virsh says', { timeout: 60_000 }, async () => {
    const socket = join(folder, 'hostile.sock');
    const xml = join(folder, 'hostile.xml');
    writeFileSync(
      xml,
      `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>hostile</name><memory unit='MiB'>16</memory><vcpu>2</vcpu><os><type>hvm</type><kernel>${REPO}/guests/build/hostile.bin</kernel></os><devices><serial type='stdio'/></devices><qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='unix:${socket},server=on,wait=off'/><qemu:arg value='-fw_cfg'/><qemu:arg value='name=opt/hostile/rounds,string=100000000'/></qemu:commandline></domain>\n`,
    );
    // Once the guest says its APs are started, vCPU 1 runs guest code.
    const child = spawn(process.execPath, [CLI, 'run', xml], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    const ended = new Promise<number | null>((resolve) => child.on('close', resolve));
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
    await until(() => stdout.includes('hostile: 2 of 2 cpus started\n'), 'the APs started', 30_000);
    const lowered = await domain(socket, 'setvcpus', '1');
    expect(lowered.status).toBe(1);
    expect(lowered.stderr).toMatch(/^error: operation failed: vCPU 1 runs guest code \(the guest started it\): tsvisor does not take a vCPU away from a guest that runs it/);
    expect(await domain(socket, 'suspend')).toMatchObject({ status: 0, stdout: "Domain 'hostile' suspended\n\n" });
    expect((await domain(socket, 'dominfo')).stdout).toContain('State:          paused\n');
    expect(await domain(socket, 'resume')).toMatchObject({ status: 0, stdout: "Domain 'hostile' resumed\n\n" });
    expect(await domain(socket, 'destroy')).toMatchObject({ status: 0, stdout: "Domain 'hostile' destroyed\n\n" });
    expect(await ended).toBe(0);
  });
});
