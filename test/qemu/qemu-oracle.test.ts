/**
 * tsvisor-qemu against the oracle, Debian's qemu-system-x86_64 7.2: the same command lines
 * under both, compared exactly.
 *   - Errors (no VM starts in either): the exit status, and stderr with the program's
 *     prefix (QEMU's "qemu-system-x86_64:" or "qemu:", tsvisor's "tsvisor-qemu:") set aside.
 *   - -device ... ,help: stdout, byte for byte; -device help: tsvisor's two devices as QEMU lists them.
 *   - Boots (KVM): the bench guest (guests/bench, a multiboot ELF32 QEMU's -kernel takes),
 *     with -enable-kvm under both: COM1's bytes (on stdout, or in a -serial file) and the exit
 *     status. The guest prints the TSC frequency from CPUID leaf 0x15 when it says it
 *     (tsvisor) and from its command line otherwise (QEMU), so the command line gives it
 *     tsvisor's: the same words then go to both.
 * Without QEMU installed these tests are skipped, loudly.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';
import { describeWithQemu, messages, qemuInstalled, run } from './oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-qemu-oracle-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeWithQemu('errors, against QEMU 7.2', () => {
  const commandLines = [
    ['-m', 'foo'], ['-m', '16Q'], ['-m', '16,foo=1'], ['-m', '16,maxmem=8M'], ['-m', '16,slots=2'],
    ['-smp', 'foo'], ['-smp', '2,maxcpus=1'], ['-smp', '2,sockets=3'], ['-smp', '300'],
    ['-append', 'x'], ['-initrd', 'x'], ['-kernel'], ['-machine'], ['-accel', 'bogus'], ['-machine', 'q35,accel=foo'],
    ['-device', 'isa-debug-exit,foo=1'], ['-device', 'isa-debug-exit,iobase=foo'], ['-device', 'pc-testdev,x=1'],
    ['-cpu', 'host,foo=on'], ['-cpu', 'host,avx=maybe'],
    ['-fw_cfg', 'name=opt/x'], ['-fw_cfg', 'name=opt/x,string=a,file=b'], ['-fw_cfg', 'name=opt/x,file=/nonexist'],
    ['-uuid', 'zz'],
    ['-kernel', '/nonexist'], ['-kernel', 'guests/build/bench.elf32', '-initrd', '/nonexist'], ['-kernel', 'guests/build/bench.elf32', '-bios', '/nonexist'],
  ];

  it.each(commandLines.map((args) => [args.join(' '), args] as const))('%s: the same message and status 1', (_name, args) => {
    const options = ['-nodefaults', '-display', 'none', ...args];
    const [qemu, ours] = [run('qemu', options), run('tsvisor', options)];
    expect(qemu.status).toBe(1);
    expect({ status: ours.status, stderr: messages(ours.stderr) }).toEqual({ status: 1, stderr: messages(qemu.stderr) });
  });
});

describeWithQemu('help, against QEMU 7.2', () => {
  it.each(['isa-debug-exit,help', 'pc-testdev,help'])('-device %s prints what QEMU prints', (device) => {
    const [qemu, ours] = [run('qemu', ['-device', device]), run('tsvisor', ['-device', device])];
    expect({ status: ours.status, stdout: ours.stdout }).toEqual({ status: qemu.status, stdout: qemu.stdout });
  });

  it('-device help lists tsvisor\'s devices with QEMU\'s lines, in QEMU\'s category', () => {
    const qemu = run('qemu', ['-device', 'help']).stdout;
    const ours = run('tsvisor', ['-device', 'help']).stdout.split('\n').filter(Boolean);
    expect(ours[0]).toBe('Misc devices:');
    for (const line of ours) expect(qemu.split('\n')).toContain(line);
  });

  it('-version and -help start with the line harnesses parse', () => {
    for (const option of ['-version', '--version', '-h', '-help']) {
      expect(run('tsvisor', [option]).stdout.split('\n')[0]).toMatch(/^QEMU emulator version 7\.2\.0 \(tsvisor \d+\.\d+\.\d+\)$/);
    }
  });
});

describeWithQemu('monitors tsvisor does not serve', () => {
  it.each([
    [['-qmp', 'stdio'], '-qmp stdio', 'on a socket only'],
  ])('%j', (args, option, why) => {
    const ours = run('tsvisor', ['-kernel', 'guests/build/bench.elf32', ...args]);
    expect(ours.status).toBe(1);
    expect(ours.stderr).toMatch(new RegExp(`^tsvisor-qemu: ${option.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${why}`));
    expect(ours.stdout).toBe('');
  });
});

describeKvm('boots, against QEMU 7.2 with KVM', () => {
  let tscKhz = '';
  const bench = (extra: readonly string[], append = `ops=none,bogus tsc_khz=${tscKhz}`) => [
    '-enable-kvm', '-cpu', 'host,-arch-capabilities', '-m', '16', '-nographic', '-nodefaults',
    // SeaBIOS keeps off the serial port, so COM1 carries only the guest's bytes (as in src/bench/qemu.ts).
    '-fw_cfg', 'name=etc/sercon-port,string=0',
    ...extra, '-kernel', 'guests/build/bench.elf32', '-append', append,
  ];

  beforeAll(() => {
    // The TSC frequency tsvisor reports (CPUID 0x15), for the command line.
    const probe = run('tsvisor', bench(['-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4'], 'ops=none'));
    tscKhz = /tsc_khz=(\d+)/.exec(probe.stdout)?.[1] ?? '';
    expect(tscKhz).toMatch(/^\d+$/);
  });

  it.runIf(qemuInstalled).each([
    ['COM1 on stdout, isa-debug-exit at 0xf4', ['-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']],
    ['q35, two vCPUs, 64 MiB, -global for the port', ['-M', 'q35,accel=kvm', '-smp', '2', '-m', '64', '-serial', 'stdio', '-global', 'isa-debug-exit.iobase=0xf4', '-global', 'isa-debug-exit.iosize=4', '-device', 'isa-debug-exit']],
    ['pc-testdev and -no-reboot beside it', ['-serial', 'stdio', '-device', 'pc-testdev', '-no-reboot', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']],
  ])('%s: the same bytes and status', { timeout: 60_000 }, (_name, extra) => {
    const [qemu, ours] = [run('qemu', bench(extra)), run('tsvisor', bench(extra))];
    expect(qemu.stdout).toBe('bench guest ready tsc_khz=' + tscKhz + '\nbench op=bogus error=unknown-op\nbench done\n');
    expect({ status: ours.status, stdout: ours.stdout }).toEqual({ status: qemu.status, stdout: qemu.stdout });
    expect(ours.status).toBe(1);
  });

  it.runIf(qemuInstalled)('-serial file:PATH: the same bytes in the file', { timeout: 60_000 }, () => {
    const [qemuFile, ourFile] = [join(folder, 'qemu.txt'), join(folder, 'tsvisor.txt')];
    const qemu = run('qemu', bench(['-serial', `file:${qemuFile}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']));
    const ours = run('tsvisor', bench(['-serial', `file:${ourFile}`, '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']));
    expect(ours.status).toBe(qemu.status);
    expect(readFileSync(ourFile, 'utf8')).toBe(readFileSync(qemuFile, 'utf8'));
    expect(ours.stdout).toBe('');
  });

  it('--print-config makes a config tsvisor run boots to the same bytes and status', { timeout: 60_000 }, async () => {
    const args = bench(['-serial', 'stdio', '-device', 'isa-debug-exit,iobase=0xf4,iosize=4']);
    const printed = await tsvisor(['qemu', '--print-config', ...args]);
    expect(printed.status).toBe(0);
    const config = join(folder, 'printed.toml');
    writeFileSync(config, printed.stdout);
    const [fromToml, fromQemu] = [await tsvisor(['run', config]), await tsvisor(['qemu', ...args])];
    expect(fromToml.stdout).toBe(`bench guest ready tsc_khz=${tscKhz}\nbench op=bogus error=unknown-op\nbench done\n`);
    expect({ status: fromQemu.status, stdout: fromQemu.stdout }).toEqual({ status: fromToml.status, stdout: fromToml.stdout });
  });
});
