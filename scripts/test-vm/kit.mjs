// The test VM's kit, built once into a cache: Debian's kernel (vmlinuz) and an initramfs with a
// static busybox, the modules that give the guest /dev/kvm (kvm-amd: QEMU's software emulator
// offers AMD SVM with nested paging) and the host's file system (9p over virtio), and
// guest-init.sh as /init. Only Debian packages: the kernel package is fetched with
// `apt-get download` and unpacked with dpkg-deb, nothing is installed from it.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { characterDevice, directory, file, newcArchive } from './cpio.mjs';

/** Fails the run with a message for the user (no stack trace). */
export class KitError extends Error {}

const HERE = new URL('.', import.meta.url).pathname;
const KERNEL_META_PACKAGE = 'linux-image-amd64';
/** What the guest needs; their dependencies come from each module's own `depends=`. */
const WANTED_MODULES = ['kvm_amd', 'virtio_pci', '9pnet_virtio', '9p'];
/** Commands the runner needs, and the Debian package of each. */
const TOOLS = [
  ['qemu-system-x86_64', 'qemu-system-x86'],
  ['dpkg-deb', 'dpkg'],
  ['apt-get', 'apt'],
];
const BUSYBOX = '/bin/busybox';

export function defaultCacheDir() {
  const base = process.env.XDG_CACHE_HOME || join(process.env.HOME || '/root', '.cache');
  return join(base, 'tsvisor', 'test-vm');
}

/** Makes sure the tools are installed and the kit is built; returns its kernel, initramfs and kernel version. */
export function ensureKit(cacheDir, progress) {
  installMissingTools(progress);
  mkdirSync(cacheDir, { recursive: true });
  const kernelDir = cachedKernel(cacheDir) ?? fetchKernel(cacheDir, progress);
  const initrd = buildInitrd(cacheDir, kernelDir, progress);
  return { kernel: join(kernelDir, 'vmlinuz'), initrd, version: kernelDir.slice(kernelDir.lastIndexOf('kernel-') + 'kernel-'.length) };
}

function onPath(command) {
  return (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, command)));
}

function installMissingTools(progress) {
  const missing = TOOLS.filter(([command]) => !onPath(command)).map(([, pkg]) => pkg);
  if (!isStaticElf(BUSYBOX)) missing.push('busybox-static');
  if (missing.length === 0) return;
  const command = `apt-get install -y ${missing.join(' ')}`;
  if (process.getuid?.() !== 0 || !onPath('apt-get')) {
    throw new KitError(`the test VM needs Debian's ${missing.join(', ')}, which are not installed. Install them (as root: ${command}) and run again.`);
  }
  progress(`installing ${missing.join(', ')} (apt-get)`);
  apt(['update', '-q']);
  apt(['install', '-y', '-q', ...missing]);
  if (!isStaticElf(BUSYBOX)) throw new KitError(`${BUSYBOX} is still not a static program after installing busybox-static; the initramfs has no C library for it.`);
}

function apt(args, cwd) {
  try {
    execFileSync('apt-get', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  } catch (error) {
    throw new KitError(`apt-get ${args.join(' ')} failed: ${String(error.stderr ?? error.message).trim()}`);
  }
}

/** An ELF program without a PT_INTERP header needs no dynamic loader (the initramfs has none). */
function isStaticElf(path) {
  if (!existsSync(path)) return false;
  const elf = readFileSync(path);
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return false; // a 64-bit ELF
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) if (elf.readUInt32LE(phoff + i * phentsize) === 3) return false; // PT_INTERP
  return true;
}

function cachedKernel(cacheDir) {
  const kernels = readdirSync(cacheDir).filter((name) => name.startsWith('kernel-') && existsSync(join(cacheDir, name, 'modules', 'order')));
  return kernels.length ? join(cacheDir, kernels.sort().at(-1)) : undefined;
}

/** Downloads Debian's current kernel package and keeps its vmlinuz and the modules the guest loads. */
function fetchKernel(cacheDir, progress) {
  const pkg = kernelPackage(progress);
  const work = mkdtempSync(join(cacheDir, 'download-'));
  try {
    progress(`downloading ${pkg} (apt-get download)`);
    apt(['download', pkg], work);
    const deb = readdirSync(work).find((name) => name.endsWith('.deb'));
    if (!deb) throw new KitError(`apt-get download ${pkg} wrote no .deb file.`);
    progress(`unpacking ${deb}`);
    const root = join(work, 'root');
    execFileSync('dpkg-deb', ['-x', join(work, deb), root]);
    const modulesRoot = ['lib/modules', 'usr/lib/modules'].map((dir) => join(root, dir)).find(existsSync);
    const version = modulesRoot && readdirSync(modulesRoot)[0];
    if (!version) throw new KitError(`${deb} holds no kernel modules.`);
    const staging = join(work, 'kit');
    mkdirSync(join(staging, 'modules'), { recursive: true });
    writeFileSync(join(staging, 'vmlinuz'), readFileSync(join(root, 'boot', `vmlinuz-${version}`)));
    const order = resolveModules(join(modulesRoot, version));
    for (const { name, path } of order) writeFileSync(join(staging, 'modules', `${name}.ko`), readFileSync(path));
    writeFileSync(join(staging, 'modules', 'order'), `${order.map(({ name }) => name).join('\n')}\n`);
    const kernelDir = join(cacheDir, `kernel-${version}`);
    rmSync(kernelDir, { recursive: true, force: true });
    renameSync(staging, kernelDir);
    return kernelDir;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

function kernelPackage(progress) {
  const depends = () => execFileSync('apt-cache', ['depends', KERNEL_META_PACKAGE], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let listing = '';
  try {
    listing = depends();
  } catch {
    // no package lists yet
  }
  if (!/Depends: linux-image-\d/.test(listing) && process.getuid?.() === 0) {
    progress('reading the package lists (apt-get update)');
    apt(['update', '-q']);
    listing = depends();
  }
  const match = /Depends: (linux-image-\d\S*)/.exec(listing);
  if (!match) throw new KitError(`apt does not know ${KERNEL_META_PACKAGE}'s kernel: run apt-get update (as root) and try again.`);
  return match[1];
}

/** The modules to load, each after the modules it depends on; built-in ones are left out. */
function resolveModules(moduleDir) {
  const builtin = new Set(
    readFileSync(join(moduleDir, 'modules.builtin'), 'utf8')
      .split('\n')
      .map((line) => moduleName(line)),
  );
  const files = new Map();
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) walk(join(dir, entry.name));
      else if (entry.name.endsWith('.ko')) files.set(moduleName(entry.name), join(dir, entry.name));
    }
  };
  walk(join(moduleDir, 'kernel'));
  const order = [];
  const visit = (name) => {
    if (builtin.has(name) || order.some((module) => module.name === name)) return;
    const path = files.get(name);
    if (!path) throw new KitError(`the kernel has no module ${name} (looked for ${name}.ko under ${moduleDir}; compressed modules are not supported).`);
    for (const dependency of moduleDependencies(path)) visit(dependency);
    order.push({ name, path });
  };
  for (const name of WANTED_MODULES) visit(name);
  return order;
}

/** kvm-amd.ko -> kvm_amd: the kernel treats - and _ in module names alike. */
function moduleName(path) {
  return path.slice(path.lastIndexOf('/') + 1).replace(/\.ko$/, '').replaceAll('-', '_');
}

/** The module's `depends=` entry in its .modinfo section (NUL-separated key=value strings). */
function moduleDependencies(path) {
  const bytes = readFileSync(path);
  const at = bytes.indexOf('\0depends=');
  if (at < 0) return [];
  const value = bytes.subarray(at + '\0depends='.length, bytes.indexOf(0, at + 1)).toString();
  return value ? value.split(',') : [];
}

/** The initramfs, rebuilt whenever /init, the modules or busybox change. */
function buildInitrd(cacheDir, kernelDir, progress) {
  const init = readFileSync(join(HERE, 'guest-init.sh'));
  const order = readFileSync(join(kernelDir, 'modules', 'order'), 'utf8').trim().split('\n');
  const busybox = readFileSync(BUSYBOX);
  const key = createHash('sha256').update(init).update(kernelDir).update(order.join(',')).update(busybox).digest('hex').slice(0, 16);
  const path = join(cacheDir, `initrd-${key}.gz`);
  if (existsSync(path)) return path;
  progress('building the initramfs');
  const entries = [
    ...['bin', 'dev', 'proc', 'sys', 'host', 'modules'].map(directory),
    characterDevice('dev/console', 5, 1),
    file('init', init, true),
    file('bin/busybox', busybox, true),
    file('modules/order', Buffer.from(`${order.join('\n')}\n`)),
    ...order.map((name) => file(`modules/${name}.ko`, readFileSync(join(kernelDir, 'modules', `${name}.ko`)))),
  ];
  for (const stale of readdirSync(cacheDir).filter((name) => name.startsWith('initrd-'))) rmSync(join(cacheDir, stale));
  writeFileSync(`${path}.tmp`, gzipSync(newcArchive(entries), { level: 1 }));
  renameSync(`${path}.tmp`, path);
  return path;
}

/** The size of the cache's kit, for the progress line. */
export function kitSize(kit) {
  return statSync(kit.kernel).size + statSync(kit.initrd).size;
}
