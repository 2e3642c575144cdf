#!/usr/bin/env node
// npm run test:vm -- <command>: runs a command with a real /dev/kvm on a host that has none.
//
// The command runs in a small Linux guest (Debian's kernel, kit.mjs) under QEMU's software
// emulator (TCG), whose emulated AMD SVM with nested paging Debian's kvm-amd binds to. The
// guest mounts the host's whole file system over virtio-9p and runs the command there, in this
// folder, with this environment, so the checkout's node, node_modules and native build run
// unchanged. The command's stdout and stderr are this runner's (ttyS1 and ttyS2 of the guest);
// the guest's console (ttyS0: kernel and init) is kept apart and shown only when something
// goes wrong. The runner exits with the command's status.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir, ensureKit, KitError } from './kit.mjs';

const USAGE = `Usage: npm run test:vm -- [options] [--] <command> [arguments...]

Runs the command in this folder inside the test VM, a Linux guest under QEMU's software
emulator with a real /dev/kvm (KVM's AMD side), and exits with its status. One argument is a
bash command line; several are a command and its arguments.

Options:
  --timeout <seconds>  the command's time limit (default 3600); at the limit the guest lists
                       its tasks on the console, which is printed, and the status is 124
  --memory <MiB>       the guest's RAM (default 6144)
  --cpus <n>           the guest's CPUs (default: the host's, at most 4)
  --console            copy the guest's console (kernel, init) to stderr as it comes
  --help               this text

The kit (kernel and initramfs) is built once into $XDG_CACHE_HOME/tsvisor/test-vm
(~/.cache/tsvisor/test-vm), or TSVISOR_TEST_VM_CACHE. It runs about 10-30x slower than the
host: its timings are not performance figures.`;

const NOT_EXPORTED = new Set(['PWD', 'OLDPWD', 'SHLVL', '_']);
/** What the runner allows beyond the command's time limit: booting, and the guest's task report. */
const BOOT_AND_REPORT_SECONDS = 120;
const CONSOLE_LINES_KEPT = 400;

const say = (message) => process.stderr.write(`test-vm: ${message}\n`);

function parseArguments(argv) {
  const options = { timeout: 3600, memory: 6144, cpus: Math.min(availableParallelism(), 4), console: false, command: [] };
  const numberOption = (name, value) => {
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) throw new KitError(`${name} takes a positive whole number, not '${value ?? ''}'. See --help.`);
    return number;
  };
  for (let i = 0; i < argv.length; i++) {
    const argument = argv[i];
    if (argument === '--') {
      options.command = argv.slice(i + 1);
      break;
    }
    if (!argument.startsWith('--')) {
      options.command = argv.slice(i);
      break;
    }
    if (argument === '--help') options.help = true;
    else if (argument === '--console') options.console = true;
    else if (argument === '--timeout' || argument === '--memory' || argument === '--cpus') options[argument.slice(2)] = numberOption(argument, argv[++i]);
    else throw new KitError(`there is no option '${argument}'. See --help.`);
  }
  return options;
}

/** The command's TMPDIR in the guest: guest-init.sh makes it in /dev/shm, a tmpfs. */
const GUEST_TMPDIR = '/dev/shm/tmp';

const quote = (text) => `'${text.replaceAll("'", "'\\''")}'`;

/** The script the guest runs: this environment, this folder, the command. */
function commandScript(command) {
  // Scratch files stay in the guest's memory (a tmpfs the guest's init makes): this machine's
  // files are reached over 9p, where copying a test's 64 MiB disk image took up to 20 s.
  const environment = { ...process.env, TMPDIR: GUEST_TMPDIR };
  if (process.stdout.isTTY && environment.FORCE_COLOR === undefined) environment.FORCE_COLOR = '1';
  const exports = Object.entries(environment)
    .filter(([name]) => /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) && !NOT_EXPORTED.has(name))
    .map(([name, value]) => `export ${name}=${quote(value)}`);
  const line = command.length === 1 ? command[0] : command.map(quote).join(' ');
  return ['# written by scripts/test-vm/test-vm.mjs', ...exports, `cd ${quote(process.cwd())} || exit 126`, line, ''].join('\n');
}

function qemuArguments(kit, options, runDir) {
  const asRoot = process.getuid?.() === 0;
  return [
    '-accel', 'tcg,thread=multi',
    '-cpu', 'max', // with SVM and nested paging
    '-smp', String(options.cpus),
    '-m', String(options.memory),
    '-machine', 'pc',
    '-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none', '-no-reboot',
    // qboot loads the kernel in a fraction of SeaBIOS's time and prints nothing.
    '-bios', 'qboot.rom',
    '-kernel', kit.kernel,
    '-initrd', kit.initrd,
    '-append', `console=ttyS0 loglevel=7 panic=-1 tsvisor_vm.run=${runDir} tsvisor_vm.timeout=${options.timeout}`,
    '-chardev', 'socket,id=console,fd=3', '-serial', 'chardev:console',
    '-chardev', 'socket,id=stdout,fd=4', '-serial', 'chardev:stdout',
    '-chardev', 'socket,id=stderr,fd=5', '-serial', 'chardev:stderr',
    '-virtfs', `local,path=/,mount_tag=host,security_model=${asRoot ? 'passthrough' : 'none'},multidevs=remap`,
  ];
}

/** The guest's console, line by line: kept for a failure report, watched for init's progress. */
class Console {
  lines = [];
  partial = '';
  constructor(echo, onLine) {
    this.echo = echo;
    this.onLine = onLine;
  }
  take(chunk) {
    if (this.echo) process.stderr.write(chunk);
    const text = this.partial + chunk.toString('utf8').replaceAll('\r', '');
    const lines = text.split('\n');
    this.partial = lines.pop();
    for (const line of lines) {
      this.lines.push(line);
      if (this.lines.length > CONSOLE_LINES_KEPT) this.lines.shift();
      this.onLine(line);
    }
  }
  /** The last lines, or everything from the last line that contains `from`. */
  tail(count, from) {
    const lines = [...this.lines, ...(this.partial ? [this.partial] : [])];
    const start = from === undefined ? -1 : lines.findLastIndex((line) => line.includes(from));
    return (start >= 0 ? lines.slice(start) : lines.slice(-count)).map((line) => `  | ${line}`).join('\n');
  }
}

async function main() {
  const options = parseArguments(process.argv.slice(2));
  if (options.help) {
    console.log(USAGE);
    return 0;
  }
  if (options.command.length === 0) throw new KitError(`no command given.\n${USAGE}`);

  const started = Date.now();
  const seconds = (since = started) => ((Date.now() - since) / 1000).toFixed(1);
  const cacheDir = process.env.TSVISOR_TEST_VM_CACHE || defaultCacheDir();
  const kit = ensureKit(cacheDir, (step) => say(`building the test VM (once, into ${cacheDir}): ${step}`));
  mkdirSync(join(cacheDir, 'runs'), { recursive: true });
  const runDir = mkdtempSync(join(cacheDir, 'runs', 'run-'));
  writeFileSync(join(runDir, 'command.sh'), commandScript(options.command));

  say(`booting Linux ${kit.version} under QEMU's software emulator (${options.cpus} CPUs, ${options.memory} MiB)`);
  let commandStarted = 0;
  const guestConsole = new Console(options.console, (line) => {
    if (!line.startsWith('test-vm: ')) return;
    const message = line.slice('test-vm: '.length);
    if (message === 'running the command') {
      commandStarted = Date.now();
      say(`booted in ${seconds()} s; running ${options.command.join(' ')} (time limit ${options.timeout} s)`);
    } else if (!options.console && !['kernel up', 'holding a VM', 'command ended', 'end of tasks'].includes(message) && !message.startsWith('time limit of')) {
      say(`guest: ${message}`);
    }
  });
  const qemu = spawn('qemu-system-x86_64', qemuArguments(kit, options, runDir), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe', 'pipe'] });
  let qemuErrors = '';
  qemu.stderr.on('data', (chunk) => (qemuErrors += chunk));
  qemu.stdio[3].on('data', (chunk) => guestConsole.take(chunk));
  qemu.stdio[4].pipe(process.stdout, { end: false });
  qemu.stdio[5].pipe(process.stderr, { end: false });
  const streamsDone = [2, 3, 4, 5].map((fd) => new Promise((resolve) => qemu.stdio[fd].on('close', resolve)));

  let hardTimeout = false;
  const killer = setTimeout(() => {
    hardTimeout = true;
    qemu.kill('SIGKILL');
  }, (options.timeout + BOOT_AND_REPORT_SECONDS) * 1000);
  const stopOnSignal = (signal) => {
    say(`${signal}: stopping the test VM`);
    qemu.kill('SIGKILL');
    process.exitCode = signal === 'SIGINT' ? 130 : 143;
  };
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  const [qemuStatus, qemuSignal] = await new Promise((resolve, reject) => {
    qemu.on('error', (error) => reject(new KitError(`cannot start qemu-system-x86_64: ${error.message}`)));
    qemu.on('exit', (status, signal) => resolve([status, signal]));
  });
  clearTimeout(killer);
  await Promise.all(streamsDone);
  let status;
  try {
    status = Number(readFileSync(join(runDir, 'status'), 'utf8'));
  } catch {
    status = undefined;
  }
  rmSync(runDir, { recursive: true, force: true });
  if (process.exitCode) return process.exitCode;
  if (status !== undefined && Number.isInteger(status)) {
    say(`the command exited with status ${status} after ${commandStarted ? seconds(commandStarted) : '?'} s (${seconds()} s in all)`);
    return status;
  }
  if (hardTimeout || guestConsole.lines.some((line) => line.includes('time limit of'))) {
    say(`timed out: the command did not end within ${options.timeout} s. The guest's console:\n${guestConsole.tail(40, 'time limit of')}`);
    return 124;
  }
  const how = qemuSignal ? `was killed by ${qemuSignal}` : `exited with status ${qemuStatus}`;
  say(
    `the test VM ended without the command's status: QEMU ${how}.${qemuErrors.trim() ? ` QEMU said:\n${qemuErrors.trim()}` : ''}\nThe guest's console:\n${guestConsole.tail(40)}`,
  );
  return 125;
}

main().then(
  (status) => process.exit(status),
  (error) => {
    if (!(error instanceof KitError)) throw error;
    say(error.message);
    process.exit(2);
  },
);
