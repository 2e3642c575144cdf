/** The test kernels in guests/, booted by `tsvisor run` under real KVM, with exact output and exit status. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { shutdownResetsVcpu } from '../../src/kvm/index.js';
import { describeKvm, hostKvmSide } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const UNASSIGNED_OUTPUT = `out8/out16/out32 to unassigned ports: ok
in8 from an unassigned port reads 0xff: ok
in16 from an unassigned port reads 0xffff: ok
in32 from an unassigned port reads 0xffffffff: ok
rep insb/insw/insl from an unassigned port read all ones: ok
rep outsb to an unassigned port: ok
MMIO writes of 1, 2, 4 and 8 bytes to an unassigned address: ok
MMIO reads of 1, 2, 4 and 8 bytes from an unassigned address read all ones: ok
rep outsb then rep insb through the UART in loopback: ok
rep outsb works
9 passed, 0 failed
`;

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-guests-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeKvm('test kernels under tsvisor run', () => {
  it('hello prints its line and exits through the debug-exit port with (21 << 1) | 1', async () => {
    const result = await tsvisor(['run', 'configs/hello-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe('Hello from tsvisor guest\n');
    expect(result.stderr).toBe('');
    expect(result.status).toBe(43);
  });

  it('a guest touching unassigned ports and MMIO, with every size and string I/O, completes', async () => {
    const result = await tsvisor(['run', 'configs/unassigned-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe(UNASSIGNED_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('--trace-unassigned prints each unassigned access and the counts', async () => {
    const result = await tsvisor(['run', '--trace-unassigned', 'configs/unassigned-x86_64.toml']);
    expect(result.status).toBe(0);
    const lines = result.stderr.trim().split('\n');
    expect(lines.slice(0, 6)).toEqual([
      'tsvisor: unassigned I/O port write at 0x80, 1 byte: 0x12',
      'tsvisor: unassigned I/O port write at 0x1234, 2 bytes: 0xbeef',
      'tsvisor: unassigned I/O port write at 0x1238, 4 bytes: 0xdeadbeef',
      'tsvisor: unassigned I/O port read at 0x2f8, 1 byte -> 0xff',
      'tsvisor: unassigned I/O port read at 0x1234, 2 bytes -> 0xffff',
      'tsvisor: unassigned I/O port read at 0x1238, 4 bytes -> 0xffffffff',
    ]);
    expect(lines).toContain('tsvisor: unassigned MMIO write at 0xd0000008, 8 bytes: 0x4444444444444444');
    expect(lines).toContain('tsvisor: unassigned MMIO read at 0xd0000008, 8 bytes -> 0xffffffffffffffff');
    expect(lines.at(-1)).toBe('tsvisor: unassigned accesses: I/O ports 31 reads, 12 writes; MMIO 4 reads, 4 writes');
    expect(lines).toHaveLength(31 + 12 + 4 + 4 + 1);
  });

  it('a triple-faulting guest ends with status 4, the reason and a register dump', async () => {
    const result = await tsvisor(['run', 'configs/triple-fault-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe('about to triple fault\n');
    expect(result.status).toBe(4);
    const lines = result.stderr.trim().split('\n');
    const triple = 'tsvisor: The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down.';
    if (shutdownResetsVcpu(hostKvmSide())) {
      // KVM's AMD side has re-initialised the vCPU: the INIT state must not pass for the guest's.
      expect(lines).toEqual([
        `${triple} Look at the guest's IDT and stack.`,
        "vCPU 0: the registers at the fault are lost. On this host KVM runs on AMD SVM, which re-initialises a vCPU when it shuts down, so KVM reports the INIT state, not the guest's.",
        '  the last exit tsvisor handled before the fault: KVM_EXIT_IO, a write to I/O port 0x3f8',
        expect.stringMatching(/^ {2}exits handled before the fault: \d+$/),
      ]);
      return;
    }
    expect(lines[0]).toBe(`${triple} Look at the IDT, the stack and the code at RIP below.`);
    expect(lines[1]).toBe('vCPU 0 in 64-bit long mode:');
    expect(lines[6]).toMatch(/^ {2}RIP=00000000000[0-9a-f]{5} RFLAGS=[0-9a-f]{16} \[/);
    expect(lines).toContain('  GDT=0000000000008030 limit=001f  IDT=0000000000000000 limit=0000');
    expect(lines.at(-1)).toMatch(/^ {2}code at RIP \(guest physical 0x[0-9a-f]+\): 0f 0b( [0-9a-f]{2}){13}$/); // ud2
  });

  it('a lone vCPU halting with interrupts disabled ends the VM with status 4 and the reason, instead of hanging', async () => {
    const image = join(folder, 'cli-hlt.bin');
    writeFileSync(image, Uint8Array.from([0xfa, 0xf4])); // cli; hlt
    const config = join(folder, 'cli-hlt.toml');
    writeFileSync(
      config,
      `[base]\nid = 1\nname = "cli-hlt"\nvm_type = 1\ncpu_num = 1\n[kernel]\nentry_point = 0x8000\nimage_location = "memory"\nkernel_path = "${image}"\nkernel_load_addr = 0x8000\nmemory_regions = [[0, 0x10_0000, 7, 0]]\n[devices]\nemu_devices = []\npassthrough_devices = []\n`,
    );
    const result = await tsvisor(['run', config]);
    expect(result.status).toBe(4);
    expect(result.stderr.split('\n')[0]).toBe(
      'tsvisor: vCPU 0 halted with interrupts disabled (HLT after CLI), and no other vCPU is running or can be woken to wake it: the VM can never continue. End the guest through the debug-exit port (a write to I/O port 0xf4) or the power-off register (0x2000 to port 0x604) to choose how tsvisor exits.',
    );
  });

  it('host input reaches the guest\'s UART', async () => {
    const result = await tsvisor(['run', 'configs/echo-x86_64.toml'], { input: 'tsvisor\n', inputAfter: 'echo> ' });
    expect(result.stdout, outcomeOf(result)).toBe('echo> you typed: tsvisor\n');
    expect(result.status).toBe(0);
  });

  it('--serial sends the guest\'s output to a file', async () => {
    const file = join(folder, 'serial.log');
    const result = await tsvisor(['run', '--serial', file, 'configs/hello-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe('');
    expect(result.status).toBe(43);
    expect(readFileSync(file, 'utf8')).toBe('Hello from tsvisor guest\n');
  });
});
