/**
 * -serial and -chardev parsed into plain data (src/qemu/chardev-options.ts), without KVM or
 * any file opened. The messages quoted are QEMU 7.2's (qemu-system-x86_64 -accel tcg
 * -nodefaults -display none -S <option>), compared by hand and, where they need no socket or
 * file, by test/qemu/chardev-oracle.test.ts.
 */
import { describe, expect, it } from 'vitest';
import type { QemuMachine } from '../../src/qemu/invocation.js';
import { machineOf, parseErrorOf } from './front-end.js';

const serialOf = (...args: string[]): QemuMachine['serial'] => machineOf(args).serial;

const errorOf = (...args: string[]) => parseErrorOf(args);

/** QEMU's second line for a -serial it could not open. */
const notConnected = (argument: string) => `\ntsvisor-qemu: -serial ${argument}: could not connect serial device to character backend '${argument}'`;

describe('-serial', () => {
  it('takes QEMU\'s short forms, labelled serial0', () => {
    expect(serialOf('-serial', 'pty')).toEqual({ spec: { backend: 'pty' }, label: 'serial0', option: '-serial pty', serialArgument: 'pty' });
    expect(serialOf('-serial', 'none').spec).toEqual({ backend: 'null' });
    expect(serialOf('-serial', 'pipe:/tmp/p').spec).toEqual({ backend: 'pipe', path: '/tmp/p' });
    expect(serialOf('-serial', 'file:/tmp/f').spec).toEqual({ backend: 'file', path: '/tmp/f', append: false });
  });

  it('takes sockets: a client by default, a server waiting for its first client unless wait=off (or the legacy nowait)', () => {
    const unix = (path: string) => ({ kind: 'unix', path });
    expect(serialOf('-serial', 'unix:/tmp/s').spec).toEqual({ backend: 'socket', address: unix('/tmp/s'), server: false, wait: true });
    expect(serialOf('-serial', 'unix:/tmp/s,server=on').spec).toEqual({ backend: 'socket', address: unix('/tmp/s'), server: true, wait: true });
    expect(serialOf('-serial', 'unix:/tmp/s,server,nowait').spec).toEqual({ backend: 'socket', address: unix('/tmp/s'), server: true, wait: false });
    expect(serialOf('-serial', 'tcp::4444,server=on,wait=off').spec).toEqual({ backend: 'socket', address: { kind: 'tcp', host: '', port: 4444 }, server: true, wait: false });
    expect(serialOf('-serial', 'tcp:localhost:4444').spec).toEqual({ backend: 'socket', address: { kind: 'tcp', host: 'localhost', port: 4444 }, server: false, wait: true });
    expect(serialOf('-serial', 'tcp:[::1]:4444,server=on,nodelay=on').spec).toMatchObject({ address: { kind: 'tcp', host: '::1', port: 4444 } });
  });

  it('takes chardev:ID, a -chardev given before or after it, labelled with its id', () => {
    expect(serialOf('-serial', 'chardev:c0', '-chardev', 'pty,id=c0')).toEqual({ spec: { backend: 'pty' }, label: 'c0', option: '-chardev pty,id=c0', serialArgument: undefined, mux: false });
    expect(serialOf('-chardev', 'stdio,id=c0,signal=off', '-serial', 'chardev:c0').spec).toEqual({ backend: 'stdio', signal: false });
  });

  it('refuses what QEMU refuses, in its words, with its second line', () => {
    expect(errorOf('-serial', 'chardev:foo')).toBe("-serial chardev:foo: could not connect serial device to character backend 'chardev:foo'");
    expect(errorOf('-serial', 'bogus')).toBe(`-serial bogus: 'bogus' is not a valid char driver${notConnected('bogus')}`);
    expect(errorOf('-serial', 'unix:/tmp/s,nowait')).toBe(`-serial unix:/tmp/s,nowait: 'wait' option is incompatible with socket in client connect mode${notConnected('unix:/tmp/s,nowait')}`);
    expect(errorOf('-serial', 'unix:/tmp/s,server=on,foo=bar')).toBe(`-serial unix:/tmp/s,server=on,foo=bar: Invalid parameter 'foo'${notConnected('unix:/tmp/s,server=on,foo=bar')}`);
    expect(errorOf('-serial', 'tcp::1')).toBe(`-serial tcp::1: address resolution failed for :1: Name or service not known${notConnected('tcp::1')}`);
    expect(errorOf('-serial', 'pipe:')).toBe(`-serial pipe:: Could not open '': No such file or directory${notConnected('pipe:')}`);
    expect(errorOf('-serial', 'stdio', '-chardev', 'stdio,id=b')).toBe(`-serial stdio: cannot use stdio by multiple character devices${notConnected('stdio')}`);
  });

  it('refuses QEMU\'s options for what tsvisor does not do, by name', () => {
    expect(errorOf('-serial', 'unix:/tmp/s,server=on,telnet=on')).toMatch(/^-serial unix:\/tmp\/s,server=on,telnet=on: tsvisor does not support the chardev option 'telnet'/);
    expect(errorOf('-serial', 'tcp::4444,server=on,websocket=on')).toMatch(/tsvisor does not support the chardev option 'websocket'/);
    expect(serialOf('-serial', 'unix:/tmp/s,server=on,telnet=off').spec).toMatchObject({ server: true });
  });
});

describe('-chardev', () => {
  it('takes file (path=, append=), null, pipe, pty, stdio (signal=) and socket', () => {
    const chardev = (text: string) => serialOf('-chardev', text, '-serial', 'chardev:c').spec;
    expect(chardev('file,id=c,path=/tmp/f,append=on')).toEqual({ backend: 'file', path: '/tmp/f', append: true });
    expect(chardev('file,id=c,path=/tmp/f')).toEqual({ backend: 'file', path: '/tmp/f', append: false });
    expect(chardev('null,id=c')).toEqual({ backend: 'null' });
    expect(chardev('pipe,id=c,path=/tmp/p')).toEqual({ backend: 'pipe', path: '/tmp/p' });
    expect(chardev('stdio,id=c')).toEqual({ backend: 'stdio', signal: true });
    expect(chardev('socket,id=c,path=/tmp/s,server=on,wait=off')).toEqual({ backend: 'socket', address: { kind: 'unix', path: '/tmp/s' }, server: true, wait: false });
    expect(chardev('socket,id=c,host=localhost,port=4444,server,nowait')).toEqual({ backend: 'socket', address: { kind: 'tcp', host: 'localhost', port: 4444 }, server: true, wait: false });
  });

  it('lets a chardev be used by nothing', () => {
    expect(serialOf('-chardev', 'null,id=unused', '-serial', 'stdio').spec).toEqual({ backend: 'stdio', signal: true });
  });

  it('refuses what QEMU refuses, in its words', () => {
    expect(errorOf('-chardev', 'stdio')).toBe('-chardev stdio: chardev: no id specified');
    expect(errorOf('-chardev', 'file,id=x')).toBe('-chardev file,id=x: chardev: file: no filename given');
    expect(errorOf('-chardev', 'pipe,id=x')).toBe('-chardev pipe,id=x: chardev: pipe: no device path given');
    expect(errorOf('-chardev', 'bogus,id=x')).toBe("-chardev bogus,id=x: 'bogus' is not a valid char driver name");
    expect(errorOf('-chardev', 'socket,id=x,path=/tmp/a,foo=1')).toBe("-chardev socket,id=x,path=/tmp/a,foo=1: Invalid parameter 'foo'");
    expect(errorOf('-chardev', 'socket,id=x,host=localhost')).toBe('-chardev socket,id=x,host=localhost: chardev: socket: no port given');
    expect(errorOf('-chardev', 'socket,id=x,host=localhost,port=abc')).toBe('-chardev socket,id=x,host=localhost,port=abc: address resolution failed for localhost:abc: Servname not supported for ai_socktype');
    expect(errorOf('-chardev', 'socket,id=x,path=/tmp/zz,wait=off')).toBe("-chardev socket,id=x,path=/tmp/zz,wait=off: 'wait' option is incompatible with socket in client connect mode");
    expect(errorOf('-chardev', 'stdio,id=x,signal=maybe')).toBe("-chardev stdio,id=x,signal=maybe: Parameter 'signal' expects 'on' or 'off'");
    expect(errorOf('-chardev', 'null,id=x', '-chardev', 'null,id=x')).toBe("-chardev null,id=x: Duplicate ID 'x' for chardev");
    expect(errorOf('-chardev', 'stdio,id=a', '-chardev', 'stdio,id=b')).toBe('-chardev stdio,id=b: cannot use stdio by multiple character devices');
  });

  it('refuses QEMU\'s backends and options tsvisor does not have, by name', () => {
    expect(errorOf('-chardev', 'ringbuf,id=x')).toMatch(/^-chardev ringbuf,id=x: tsvisor does not support the 'ringbuf' chardev backend/);
    expect(errorOf('-chardev', 'socket,id=x,path=/tmp/a,server=on,tn3270=on')).toMatch(/tsvisor does not support the chardev option 'tn3270'/);
    expect(errorOf('-chardev', 'file,id=x,path=/tmp/f,mux=on')).toMatch(/mux=on is for a stdio chardev, and this is a file one/);
  });
});
