/**
 * The QEMU front end's parser: every option, its defaults, and its errors. Where QEMU 7.2
 * (Debian's qemu-system-x86_64) words an error, the expected text here is QEMU's, checked
 * against it (qemu-oracle.test.ts runs both on the same command lines).
 */
import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../../src/qemu/parse-command-line.js';
import type { QemuMachine } from '../../src/qemu/invocation.js';
import { parseKeyValues } from '../../src/qemu/keyval.js';
import { machineOf as parsedMachine, parseErrorOf } from './front-end.js';

const KERNEL = ['-kernel', 'guests/build/bench.elf32'];

const machineOf = (...args: string[]): QemuMachine => parsedMachine([...KERNEL, ...args]);

const errorOf = (...args: string[]) => parseErrorOf(args);

describe('QEMU option lists', () => {
  it('take an implied first key, key=value pairs, ",," for a comma and bare keys as =on', () => {
    expect(parseKeyValues('-x', 'pc,accel=kvm', 'type')).toEqual([{ key: 'type', value: 'pc' }, { key: 'accel', value: 'kvm' }]);
    expect(parseKeyValues('-x', 'name=a,,b,string=c,,,,d', 'name')).toEqual([{ key: 'name', value: 'a,b' }, { key: 'string', value: 'c,,d' }]);
    expect(parseKeyValues('-x', 'tcp:h:1,server,nowait', 'address')).toEqual([
      { key: 'address', value: 'tcp:h:1' }, { key: 'server', value: 'on' }, { key: 'nowait', value: 'on' },
    ]);
  });
});

describe('the command line', () => {
  it('takes options with one dash or two', () => {
    expect(machineOf('--m', '64').ramSize).toBe(64 * 2 ** 20);
    expect(machineOf('-m', '64').ramSize).toBe(64 * 2 ** 20);
  });

  it('refuses an option it does not take, naming it, and a missing argument as QEMU says', () => {
    expect(errorOf('-drive', 'file=x')).toBe('-drive: tsvisor does not support this option (tsvisor qemu -h lists those it takes).');
    expect(errorOf('-kernel')).toBe('-kernel: requires an argument');
    expect(errorOf('disk.img')).toMatch(/^'disk.img' is a disk image to QEMU/);
  });

  it('answers -help, -version, -device help and -machine help before checking anything else', () => {
    expect(parseCommandLine(['-m', 'foo', '-version'])).toEqual({ action: 'version' });
    expect(parseCommandLine(['-h'])).toEqual({ action: 'help' });
    expect(parseCommandLine(['--help'])).toEqual({ action: 'help' });
    expect(parseCommandLine(['-device', 'help'])).toEqual({ action: 'device-help', device: undefined });
    expect(parseCommandLine(['-device', '?'])).toEqual({ action: 'device-help', device: undefined });
    expect(parseCommandLine(['-device', 'isa-debug-exit,help'])).toEqual({ action: 'device-help', device: 'isa-debug-exit' });
    expect(parseCommandLine(['-M', 'help'])).toEqual({ action: 'machine-help' });
  });

  it('has QEMU\'s defaults: pc, 128 MiB, one vCPU, no debug-exit, COM1 nowhere without -nographic', () => {
    const machine = machineOf();
    expect(machine).toMatchObject({
      machine: 'pc', ramSize: 128 * 2 ** 20, cpus: 1, cpuFeatures: [], debugExits: [], pcTestdev: false, fwCfgFiles: [],
      serial: { spec: { backend: 'null' }, label: 'serial0' }, noReboot: false, noShutdown: false, startPaused: false, monitors: [],
    });
  });

  it('puts COM1 on the terminal with -nographic, unless -nodefaults; -serial decides over both', () => {
    // QEMU 7.2's mon:stdio: COM1 and the human monitor share the terminal, and Ctrl-C goes to the guest.
    expect(machineOf('-nographic').serial).toMatchObject({ spec: { backend: 'stdio', signal: false }, mux: true });
    expect(machineOf('-nographic').monitors).toEqual([{ option: '-serial mon:stdio', mode: 'readline', pretty: false, channel: { kind: 'mux' } }]);
    expect(machineOf('-nographic', '-qmp', 'unix:/tmp/q,server=on,wait=off').serial.spec).toEqual({ backend: 'stdio', signal: true });
    expect(machineOf('-nographic', '-serial', 'null').monitors).toEqual([{ option: '-nographic', mode: 'readline', pretty: false, channel: { kind: 'stdio' } }]);
    expect(machineOf('-nographic', '-nodefaults').serial.spec).toEqual({ backend: 'null' });
    expect(machineOf('-nodefaults', '-serial', 'stdio').serial.spec).toEqual({ backend: 'stdio', signal: true });
    expect(machineOf('-serial', 'file:out.txt').serial.spec).toEqual({ backend: 'file', path: `${process.cwd()}/out.txt`, append: false });
    expect(machineOf('-serial', 'null').serial.spec).toEqual({ backend: 'null' });
  });
});

describe('the terminal\'s users (QEMU 7.2, measured on a pty)', () => {
  it('shares the terminal between COM1 and the monitor with mon:stdio or a stdio -chardev with mux=on', () => {
    expect(machineOf('-nodefaults', '-serial', 'mon:stdio').serial).toMatchObject({ spec: { backend: 'stdio', signal: false }, mux: true });
    const muxed = machineOf('-nodefaults', '-chardev', 'stdio,id=c,mux=on', '-serial', 'chardev:c', '-mon', 'chardev=c');
    expect(muxed.serial).toMatchObject({ spec: { backend: 'stdio' }, mux: true, label: 'c' });
    expect(muxed.monitors).toEqual([{ option: '-mon chardev=c', mode: 'readline', pretty: false, channel: { kind: 'mux' } }]);
  });

  it('refuses a second user of the terminal as QEMU does', () => {
    expect(errorOf('-nographic', '-serial', 'stdio')).toBe("-serial stdio: cannot use stdio by multiple character devices\ntsvisor-qemu: -serial stdio: could not connect serial device to character backend 'stdio'");
    expect(errorOf('-nographic', '-monitor', 'stdio')).toBe("cannot use stdio by multiple character devices\ntsvisor-qemu: could not connect serial device to character backend 'stdio'");
    expect(machineOf('-nodefaults', '-monitor', 'stdio', '-serial', 'null').monitors).toEqual([{ option: '-monitor stdio', mode: 'readline', pretty: false, channel: { kind: 'stdio' } }]);
  });
});

describe('-machine and -accel', () => {
  it('take pc and q35 (and their 7.2 names) with accel=kvm', () => {
    expect(machineOf('-machine', 'q35,accel=kvm').machine).toBe('q35');
    expect(machineOf('-M', 'pc-i440fx-7.2').machine).toBe('pc');
    expect(machineOf('-machine', 'accel=kvm:tcg').machine).toBe('pc');
    expect(machineOf('-accel', 'kvm', '-enable-kvm').machine).toBe('pc');
  });

  it('refuse other machines, accelerators and properties, naming them', () => {
    expect(errorOf('-machine', 'virt')).toMatch(/^-machine virt: tsvisor has no machine 'virt'/);
    expect(errorOf('-machine', 'pc,accel=tcg')).toBe('-machine pc,accel=tcg: tsvisor runs guests on KVM only, not tcg. Use accel=kvm.');
    expect(errorOf('-machine', 'q35,accel=foo')).toBe('invalid accelerator foo');
    expect(errorOf('-accel', 'hax')).toBe('-accel hax: tsvisor runs guests on KVM only, not hax. Use accel=kvm.');
    expect(errorOf('-accel', 'bogus')).toBe('-accel bogus: invalid accelerator bogus');
    expect(errorOf('-accel', 'kvm,kernel-irqchip=off')).toMatch(/^-accel kvm,kernel-irqchip=off: tsvisor takes no KVM property 'kernel-irqchip'/);
    expect(errorOf('-machine', 'pc,usb=on')).toMatch(/^-machine pc,usb=on: tsvisor's PC has no property 'usb'/);
  });
});

describe('-m', () => {
  it('takes MiB without a suffix, QEMU\'s suffixes, size=, and rounds up to 8 KiB', () => {
    expect(machineOf('-m', '16').ramSize).toBe(16 * 2 ** 20);
    expect(machineOf('-m', '1G').ramSize).toBe(2 ** 30);
    expect(machineOf('-m', 'size=512k').ramSize).toBe(512 * 1024);
    expect(machineOf('-m', '1.5M').ramSize).toBe(1.5 * 2 ** 20);
    expect(machineOf('-m', '1001k').ramSize).toBe(126 * 8192);
    expect(machineOf('-m', '0').ramSize).toBe(128 * 2 ** 20);
    expect(machineOf('-m', '16,slots=2,maxmem=1G').ramSize).toBe(16 * 2 ** 20);
  });

  it('refuses what QEMU refuses, in its words', () => {
    const sizeHelp = "Parameter 'size' expects a non-negative number below 2^64\nOptional suffix k, M, G, T, P or E means kilo-, mega-, giga-, tera-, peta-\nand exabytes, respectively.";
    expect(errorOf('-m', 'foo')).toBe(`-m foo: ${sizeHelp}`);
    expect(errorOf('-m', '16Q')).toBe(`-m 16Q: ${sizeHelp}`);
    expect(errorOf('-m', '-5')).toBe(`-m -5: ${sizeHelp}`);
    expect(errorOf('-m', '16,foo=1')).toBe("-m 16,foo=1: Invalid parameter 'foo'");
    expect(errorOf('-m', '16,slots=2')).toBe('slots specified but no max-size');
    expect(errorOf('-m', '16,maxmem=8M')).toBe('invalid value of maxmem: maximum memory size (0x800000) must be at least the initial memory size (0x1000000)');
  });
});

describe('-smp', () => {
  it('counts vCPUs as QEMU 7.2 does', () => {
    expect(machineOf('-smp', '4').cpus).toBe(4);
    expect(machineOf('-smp', 'cpus=2,maxcpus=4').cpus).toBe(2);
    expect(machineOf('-smp', 'sockets=2,cores=2').cpus).toBe(4);
    expect(machineOf('-smp', '8,sockets=2,cores=2,threads=2').cpus).toBe(8);
    expect(machineOf('-smp', 'maxcpus=6').cpus).toBe(6);
  });

  it('refuses what QEMU refuses, in its words', () => {
    expect(errorOf(...KERNEL, '-smp', 'foo')).toBe("Parameter 'smp.cpus' expects integer");
    expect(errorOf(...KERNEL, '-smp', '2,maxcpus=1')).toBe(
      'Invalid CPU topology: maxcpus must be equal to or greater than smp: sockets (1) * dies (1) * cores (1) * threads (1) == maxcpus (1) < smp_cpus (2)',
    );
    expect(errorOf(...KERNEL, '-smp', '2,sockets=3')).toBe(
      'Invalid CPU topology: product of the hierarchy must match maxcpus: sockets (3) * dies (1) * cores (0) * threads (1) != maxcpus (2)',
    );
    expect(errorOf(...KERNEL, '-smp', '300')).toBe("Invalid SMP CPUs 300. The max CPUs supported by machine 'pc-i440fx-7.2' is 255");
    expect(errorOf(...KERNEL, '-smp', '2,foo=1')).toBe("-smp 2,foo=1: Invalid parameter 'foo'");
  });
});

describe('-cpu', () => {
  it('takes host and max, with +feat, -feat and feat=on|off by QEMU\'s names and aliases; -feat wins', () => {
    expect(machineOf('-cpu', 'host').cpuFeatures).toEqual([]);
    expect(machineOf('-cpu', 'max,-avx,+sse4_2,pdpe1gb=off,sse3=on').cpuFeatures).toEqual([
      { name: 'avx', enabled: false }, { name: 'pdpe1gb', enabled: false }, { name: 'pni', enabled: true }, { name: 'sse4.2', enabled: true },
    ]);
    expect(machineOf('-cpu', 'host,-avx,+avx').cpuFeatures).toEqual([{ name: 'avx', enabled: false }]);
    expect(machineOf('-cpu', 'host,avx=on,-avx').cpuFeatures).toEqual([{ name: 'avx', enabled: false }]);
    expect(machineOf('-cpu', 'host,-arch-capabilities,-kvmclock').cpuFeatures).toEqual([
      { name: 'arch-capabilities', enabled: false }, { name: 'kvmclock', enabled: false },
    ]);
  });

  it('refuses other models, unknown features (in QEMU\'s words) and what tsvisor cannot turn on', () => {
    expect(errorOf('-cpu', 'qemu64')).toMatch(/^-cpu qemu64: tsvisor has no CPU model 'qemu64'/);
    expect(errorOf('-cpu', 'host,foo=on')).toBe("can't apply global host-x86_64-cpu.foo=on: Property 'host-x86_64-cpu.foo' not found");
    expect(errorOf('-cpu', 'host,+foo')).toBe("can't apply global host-x86_64-cpu.foo=on: Property 'host-x86_64-cpu.foo' not found");
    expect(errorOf('-cpu', 'host,avx=maybe')).toBe("can't apply global host-x86_64-cpu.avx=maybe: Parameter 'avx' expects 'on' or 'off'");
    expect(errorOf('-cpu', 'host,+x2apic')).toMatch(/^-cpu host,\+x2apic: x2apic cannot be turned on: tsvisor's Local APIC is xAPIC only/);
    expect(errorOf('-cpu', 'host,+kvmclock')).toMatch(/^-cpu host,\+kvmclock: kvmclock cannot be turned on: tsvisor offers none of KVM's paravirtual features/);
  });
});

describe('-kernel, -append, -initrd, -bios, -name, -uuid', () => {
  it('keep what they are given', () => {
    expect(machineOf('-append', 'a b', '-initrd', 'r.bin', '-bios', 'b.bin', '-name', 'guest=vm1,debug-threads=on', '-uuid', 'A1B2C3D4-0000-1111-2222-333344445555')).toMatchObject({
      kernel: 'guests/build/bench.elf32', append: 'a b', initrd: 'r.bin', bios: 'b.bin', name: 'vm1', uuid: 'a1b2c3d4-0000-1111-2222-333344445555',
    });
    expect(machineOf('-name', 'plain').name).toBe('plain');
  });

  it('refuse -append and -initrd without -kernel, and a malformed UUID, as QEMU does', () => {
    expect(errorOf('-append', 'x')).toBe('-append only allowed with -kernel option');
    expect(errorOf('-initrd', 'x')).toBe('-initrd only allowed with -kernel option');
    expect(errorOf('-uuid', 'zz')).toBe('-uuid zz: failed to parse UUID string: wrong format');
  });
});

describe('-device and -global', () => {
  it('add isa-debug-exit with QEMU\'s defaults (0x501, 2), -global defaults and its own properties; and pc-testdev', () => {
    expect(machineOf('-device', 'isa-debug-exit').debugExits).toEqual([{ option: '-device isa-debug-exit', iobase: 0x501, iosize: 2 }]);
    expect(machineOf('-global', 'isa-debug-exit.iobase=0xf4', '-device', 'isa-debug-exit,iosize=0x04,id=exit').debugExits).toEqual([
      { option: '-device isa-debug-exit,iosize=0x04,id=exit', iobase: 0xf4, iosize: 4 },
    ]);
    expect(machineOf('-device', 'isa-debug-exit,iobase=0x600', '-global', 'driver=isa-debug-exit,property=iosize,value=1').debugExits).toEqual([
      { option: '-device isa-debug-exit,iobase=0x600', iobase: 0x600, iosize: 1 },
    ]);
    expect(machineOf('-device', 'pc-testdev').pcTestdev).toBe(true);
  });

  it('refuse other devices, properties and settings, naming them (QEMU\'s words for a property)', () => {
    expect(errorOf('-device', 'virtio-net-pci')).toMatch(/^-device virtio-net-pci: tsvisor has no device 'virtio-net-pci': its -device models are isa-debug-exit and pc-testdev/);
    expect(errorOf('-device', 'isa-debug-exit,foo=1')).toBe("-device isa-debug-exit,foo=1: Property 'isa-debug-exit.foo' not found");
    expect(errorOf('-device', 'isa-debug-exit,iobase=foo')).toBe("-device isa-debug-exit,iobase=foo: Parameter 'iobase' expects integer");
    expect(errorOf('-device', 'pc-testdev,x=1')).toBe("-device pc-testdev,x=1: Property 'pc-testdev.x' not found");
    expect(errorOf('-global', 'i8042.kbd=off')).toBe('-global i8042.kbd=off: tsvisor has no setting i8042.kbd: -global takes isa-debug-exit.iobase and isa-debug-exit.iosize.');
    expect(errorOf('-global', 'foo')).toMatch(/^-global foo: expected driver.property=value/);
  });
});

describe('-fw_cfg', () => {
  it('takes name= (implied) with string= or file=', () => {
    expect(machineOf('-fw_cfg', 'name=opt/a,string=x,,y', '-fw_cfg', 'opt/b,file=package.json').fwCfgFiles).toEqual([
      { option: '-fw_cfg name=opt/a,string=x,,y', file: { name: 'opt/a', string: 'x,y' } },
      { option: '-fw_cfg opt/b,file=package.json', file: { name: 'opt/b', file: `${process.cwd()}/package.json` } },
    ]);
  });

  it('refuses what QEMU refuses, in its words', () => {
    expect(errorOf('-fw_cfg', 'name=opt/x')).toBe('-fw_cfg name=opt/x: name, plus exactly one of file, string and gen_id, are needed');
    expect(errorOf('-fw_cfg', 'name=opt/x,string=a,file=b')).toBe('-fw_cfg name=opt/x,string=a,file=b: name, plus exactly one of file, string and gen_id, are needed');
    expect(errorOf('-fw_cfg', 'name=opt/x,file=/nonexist')).toBe('-fw_cfg name=opt/x,file=/nonexist: can\'t load /nonexist: Failed to open file “/nonexist”: No such file or directory');
  });
});

describe('-serial, -display', () => {
  it('refuse backends and displays tsvisor has not, naming them', () => {
    expect(errorOf('-serial', 'vc')).toMatch(/^-serial vc: tsvisor does not support the 'vc' serial backend: it takes stdio, null, file:PATH, pipe:PATH, pty, unix:PATH/);
    expect(errorOf('-serial', 'telnet::4444,server=on')).toMatch(/^-serial telnet::4444,server=on: tsvisor does not support the 'telnet' serial backend/);
    expect(errorOf('-serial', 'mon:unix:/tmp/s,server=on')).toMatch(/^-serial mon:unix:\/tmp\/s,server=on: tsvisor shares only the terminal between COM1 and the monitor/);
    expect(errorOf('-serial', 'file:')).toBe("-serial file:: Could not open '': No such file or directory\ntsvisor-qemu: -serial file:: could not connect serial device to character backend 'file:'");
    expect(errorOf(...KERNEL, '-serial', 'stdio', '-serial', 'null')).toBe('-serial null: tsvisor has one serial port, COM1; a second -serial would be COM2.');
    expect(errorOf('-display', 'gtk')).toMatch(/^-display gtk: tsvisor has no display/);
    expect(machineOf('-display', 'none').serial.spec).toEqual({ backend: 'null' });
  });
});

describe('-qmp, -monitor, -mon and -chardev', () => {
  it('describe each monitor\'s endpoint: unix or tcp, server and wait (on|off, or the legacy server,nowait)', () => {
    expect(machineOf('-qmp', 'unix:/tmp/q.sock,server=on,wait=off').monitors).toEqual([
      { option: '-qmp unix:/tmp/q.sock,server=on,wait=off', mode: 'control', pretty: false, channel: { kind: 'socket', address: { kind: 'unix', path: '/tmp/q.sock' }, server: true, wait: false } },
    ]);
    expect(machineOf('-qmp', 'tcp:localhost:4444,server,nowait').monitors[0]?.channel).toEqual({
      kind: 'socket', address: { kind: 'tcp', host: 'localhost', port: 4444 }, server: true, wait: false,
    });
    expect(machineOf('-qmp', 'tcp::4444').monitors[0]?.channel).toEqual({ kind: 'socket', address: { kind: 'tcp', host: 'localhost', port: 4444 }, server: false, wait: true });
    expect(machineOf('-monitor', 'stdio').monitors).toEqual([{ option: '-monitor stdio', mode: 'readline', pretty: false, channel: { kind: 'stdio' } }]);
    expect(machineOf('-monitor', 'none').monitors).toEqual([]);
    expect(machineOf('-mon', 'chardev=m0,mode=control,pretty=on', '-chardev', 'socket,id=m0,path=/tmp/m.sock,server=on,wait=off').monitors).toEqual([
      { option: '-mon chardev=m0,mode=control,pretty=on', mode: 'control', pretty: true, channel: { kind: 'socket', address: { kind: 'unix', path: '/tmp/m.sock' }, server: true, wait: false } },
    ]);
    expect(machineOf('-chardev', 'socket,id=t,host=127.0.0.1,port=5555,server=on', '-mon', 't').monitors[0]?.channel).toEqual({
      kind: 'socket', address: { kind: 'tcp', host: '127.0.0.1', port: 5555 }, server: true, wait: true,
    });
  });

  it('refuse what they cannot describe, naming it', () => {
    expect(errorOf('-qmp', 'foo')).toMatch(/^-qmp foo: tsvisor does not support the monitor channel 'foo'/);
    expect(errorOf('-mon', 'nochardev')).toBe('-mon nochardev: chardev "nochardev" not found');
    expect(errorOf('-chardev', 'socket,id=x')).toMatch(/^-chardev socket,id=x: a socket chardev needs path=/);
    expect(errorOf('-chardev', 'ringbuf,id=x')).toMatch(/^-chardev ringbuf,id=x: tsvisor does not support the 'ringbuf' chardev backend/);
    expect(errorOf('-chardev', 'pty,id=x', '-mon', 'x')).toBe("-mon x: tsvisor's monitors talk through a socket or stdio chardev, and 'x' is a pty chardev.");
    expect(errorOf('-qmp', 'tcp:localhost:99999,server')).toMatch(/'99999' is not a TCP port number/);
  });

  it('keep -no-reboot, -no-shutdown and -S', () => {
    expect(machineOf('-no-reboot', '-no-shutdown', '-S')).toMatchObject({ noReboot: true, noShutdown: true, startPaused: true });
  });
});
