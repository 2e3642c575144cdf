/**
 * A domain XML file -> its definition -> the QEMU command line libvirt would make of it ->
 * tsvisor's QEMU front end's config document, plus what QEMU has no option for (pinning) ->
 * the VmSpec, through the same readers as a TOML file's. Errors from the QEMU side name the
 * file and, for a <qemu:arg>, the argument.
 */
import { cpus as hostCpus } from 'node:os';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../config/config-error.js';
import { ConfigSource } from '../config/config-source.js';
import { MAX_CONFIG_BYTES, vmSpecOf } from '../config/load-config.js';
import { InputFileError, readRegularFile } from '../host/regular-file.js';
import type { VmSpec } from '../config/vm-spec.js';
import type { QemuMachine } from '../qemu/invocation.js';
import { parseCommandLine } from '../qemu/parse-command-line.js';
import { QemuError } from '../qemu/qemu-error.js';
import { qemuConfig, type ConfigDocument } from '../qemu/to-config.js';
import type { DomainDefinition } from './domain.js';
import { DomainXmlError } from './domain-xml-error.js';
import { readDomain } from './read-domain.js';
import { qemuArgsOf } from './to-qemu-args.js';

export interface DomainConfig {
  readonly file: string;
  readonly domain: DomainDefinition;
  /** The QEMU command line it stands for (libvirt's options, then the <qemu:arg> values). */
  readonly qemuArgs: readonly string[];
  readonly machine: QemuMachine;
  readonly document: ConfigDocument;
  readonly spec: VmSpec;
}

/** Whether a config file's text is XML rather than TOML: its first non-blank character opens a tag. */
export function looksLikeXml(text: string): boolean {
  return /^\uFEFF?\s*</.test(text);
}

export function loadDomainConfig(path: string): DomainConfig {
  let text: string;
  try {
    // A domain file is a config: a regular file, and as small as one.
    text = Buffer.from(readRegularFile(path, MAX_CONFIG_BYTES, 'a domain XML file')).toString('utf8');
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    throw new DomainXmlError(path, undefined, `${error.missing ? 'the file does not exist' : `the file ${error.problem}`}.`, error.missing ? 'Check the path.' : error.fix);
  }
  return domainConfig(readDomain(text, path), path);
}

export function domainConfig(domain: DomainDefinition, file: string): DomainConfig {
  const qemuArgs = qemuArgsOf(withPathsFrom(dirname(resolve(file)), domain));
  const fromQemu = (error: unknown) => {
    if (!(error instanceof QemuError)) return error;
    const fromArg = domain.qemuArgs.some((arg) => error.option?.includes(arg));
    return new DomainXmlError(file, fromArg ? `<qemu:commandline> (${error.option})` : error.option, `${error.problem}${/[.!?]$/.test(error.problem) ? '' : '.'}`, fromArg ? 'Fix that <qemu:arg>.' : '');
  };
  let machine: QemuMachine;
  try {
    const invocation = parseCommandLine(qemuArgs);
    if (invocation.action !== 'run') throw new DomainXmlError(file, '<qemu:commandline>', `its arguments ask QEMU for ${invocation.action.replace('-', ' ')}, not a VM.`, 'Leave help and version options out.');
    machine = invocation.machine;
  } catch (error) {
    throw fromQemu(error);
  }
  let document: ConfigDocument;
  try {
    document = qemuConfig(machine).document;
  } catch (error) {
    throw fromQemu(error);
  }
  const pinned = pinning(domain);
  if (pinned) document.base = { ...document.base, phys_cpu_sets: pinned };
  const source = new ConfigSource(file, resolve(file), document as ConfigSource['document'], { values: new Map(), keys: new Map() });
  let spec: VmSpec;
  try {
    spec = vmSpecOf(source);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    throw new DomainXmlError(file, undefined, error.problem, error.fix);
  }
  const notes = domain.notes.map((note) => `${file}: ${note}`);
  if (domain.memballoon !== undefined && domain.memballoon !== 'none') notes.push(`${file}: <memballoon model='${domain.memballoon}'>: tsvisor has no balloon device; the guest's memory stays at <memory>.`);
  return { file, domain, qemuArgs, machine, document, spec: { ...spec, warnings: [...spec.warnings, ...notes] } };
}

/** The domain with its image and serial paths taken from `folder` when relative, as a TOML config's are from its file's folder. */
function withPathsFrom(folder: string, domain: DomainDefinition): DomainDefinition {
  const from = (path: string | undefined) => (path === undefined ? undefined : resolve(folder, path));
  const { os, serial } = domain;
  return {
    ...domain,
    os: { ...os, loader: from(os.loader), kernel: from(os.kernel), initrd: os.initrd?.split(',').map((module) => from(module.trim())).join(',') },
    serial: serial && (serial.type === 'file' || serial.type === 'unix') ? { ...serial, path: resolve(folder, serial.path) } : serial,
  };
}

/** phys_cpu_sets for <vcpu cpuset> and <vcpupin>: a host CPU bitmask per vCPU, or undefined when nothing is pinned. */
function pinning(domain: DomainDefinition): bigint[] | undefined {
  const { cpuset, maximum } = domain.vcpus;
  if (cpuset === undefined && domain.vcpuPins.length === 0) return undefined;
  const mask = (cpus: readonly number[]) => cpus.reduce((bits, cpu) => bits | (1n << BigInt(cpu)), 0n);
  return Array.from({ length: maximum }, (_unused, vcpu) => {
    const pin = domain.vcpuPins.findLast((entry) => entry.vcpu === vcpu);
    if (pin) return mask(pin.cpus);
    // Without a cpuset, an unpinned vCPU may run on any host CPU.
    return mask(cpuset ?? hostCpus().map((_cpu, index) => index));
  });
}
