/**
 * QEMU, the VMM a user would otherwise reach for, as the bench's second reference: found on
 * PATH, installed on request (`npm run bench -- --install-peers`, Debian's qemu-system-x86),
 * and run on the bench guest with KVM, the guest's multiboot ELF through -kernel.
 */
import { spawnSync } from 'node:child_process';
import { TsvisorError } from '../errors.js';

export const QEMU = 'qemu-system-x86_64';
const QEMU_PACKAGE = 'qemu-system-x86';

/** QEMU's version line, or undefined when it is not installed. */
export function qemuVersion(): string | undefined {
  const result = spawnSync(QEMU, ['--version'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) return undefined;
  return result.stdout.split('\n')[0]?.trim();
}

/** apt-get installs QEMU (root only); throws with apt's own words when it cannot. */
export function installQemu(): void {
  if (process.getuid?.() !== 0) {
    throw new TsvisorError(`--install-peers runs apt-get, which needs root: run \`sudo apt-get install ${QEMU_PACKAGE}\` yourself, or the bench as root.`);
  }
  for (const args of [['update'], ['install', '-y', QEMU_PACKAGE]]) {
    const result = spawnSync('apt-get', args, { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
    if (result.status !== 0) {
      throw new TsvisorError(`apt-get ${args.join(' ')} failed (status ${result.status}): ${result.stderr.trim().split('\n').at(-1) ?? ''}`);
    }
  }
}

/**
 * The QEMU command line that boots a multiboot kernel with one vCPU and 16 MiB: KVM, the
 * host's CPU model (so the guest sees the same CPUID as under tsvisor) less
 * IA32_ARCH_CAPABILITIES (QEMU 7.2 aborts setting that MSR on a nested kvm_pvm host, and no
 * bench operation reads it), COM1 on stdout, and isa-debug-exit at 0xf4 as tsvisor has it.
 * SeaBIOS is told to keep off the serial port (etc/sercon-port = 0), so that the first byte
 * on stdout is the guest's, as under tsvisor.
 */
export function qemuArguments(kernel: string, commandLine: string): string[] {
  return [
    '-enable-kvm', '-cpu', 'host,-arch-capabilities', '-m', '16', '-smp', '1',
    '-nographic', '-no-reboot', '-nodefaults',
    '-serial', 'stdio',
    '-fw_cfg', 'name=etc/sercon-port,string=0',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-kernel', kernel,
    '-append', commandLine,
  ];
}
