/**
 * Reads an AxVisor VM config (TOML: [base], [kernel], [devices]) into a VmSpec, checking
 * every value before anything touches KVM. Errors name the file, line and column, the key
 * path, what was expected, what was found and how to fix it; warnings (unknown keys,
 * requests tsvisor can only approximate) are collected in the spec.
 */
import { resolve } from 'node:path';
import { TomlError, parse, type TomlTable } from 'smol-toml';
import { KVM_REAL_MODE_AREA_SIZE, placeKvmRealModeArea } from '../boot/real-mode.js';
import { readHostFacts, type HostFacts } from '../host/cpu.js';
import { InputFileError, readRegularFile } from '../host/regular-file.js';
import { readBase } from './base-section.js';
import { readBoot } from './boot-section.js';
import { ConfigError } from './config-error.js';
import { ConfigSource } from './config-source.js';
import { readDevices } from './devices-section.js';
import { locateImages } from './images.js';
import { readMemoryRegions } from './memory-regions.js';
import { rejectFlatFormat, rejectNewerFormats, warnUnknownKeys } from './schema.js';
import { locateToml } from './toml-locations.js';
import { readCurrentCpus, readTsvisorSection } from './tsvisor-section.js';
import { windowObstacles } from './window-obstacles.js';
import type { DeviceSpec, MemoryRegionSpec, VmSpec } from './vm-spec.js';

export function loadVmConfig(path: string, host: HostFacts = readHostFacts()): VmSpec {
  const file = resolve(path);
  const text = readConfigText(path, file);
  return vmSpecOf(new ConfigSource(path, file, parseToml(path, text), locateToml(text)), host);
}

/**
 * The VmSpec of a parsed config document: every check tsvisor makes of a config, whoever
 * wrote the document (a TOML file, or the QEMU command line's front end, src/qemu/).
 */
export function vmSpecOf(source: ConfigSource, host: HostFacts = readHostFacts()): VmSpec {
  rejectFlatFormat(source);
  rejectNewerFormats(source);
  warnUnknownKeys(source);

  const base = readBase(source, host);
  const kernel = source.table('kernel');
  const memoryRegions = readMemoryRegions(source, kernel, host);
  const { boot, images } = readBoot(source, kernel, locateImages(source, kernel), memoryRegions);
  const { cpuFeatures, ...extensions } = readTsvisorSection(source);
  const currentCpus = readCurrentCpus(source, base.cpuCount);
  const { devices, interruptMode } = readDevices(source, memoryRegions, extensions);
  const kvmRealModeArea = placeRealModeArea(source, memoryRegions, devices);
  return { configPath: source.file, ...base, currentCpus, memoryRegions, images, boot, devices, interruptMode, cpuFeatures, kvmRealModeArea, warnings: source.warnings };
}

/** 16 KiB below 4 GiB that no region and no MMIO device uses, for KVM's real-mode pages. */
function placeRealModeArea(source: ConfigSource, regions: readonly MemoryRegionSpec[], devices: readonly DeviceSpec[]): number {
  const mmio = devices.filter((device) => device.bus === 'mmio').map((device) => ({ gpa: device.base, size: device.length }));
  const base = placeKvmRealModeArea(windowObstacles([...regions, ...mmio], KVM_REAL_MODE_AREA_SIZE));
  if (base === undefined) {
    throw source.error(
      'kernel.memory_regions',
      'the regions and MMIO devices leave no 16 KiB free below 4 GiB, where KVM must keep the identity page table and TSS it runs real mode with.',
      'Leave a 16 KiB gap below 4 GiB, say at 0xfeffc000.',
    );
  }
  return base;
}

/**
 * Configs are a few KiB; 1 MiB leaves room for any hand-written or generated one while a path
 * such as /dev/zero or a multi-GB file is refused by its size, before it is read or parsed.
 */
export const MAX_CONFIG_BYTES = 1024 * 1024;

function readConfigText(path: string, file: string): string {
  try {
    return Buffer.from(readRegularFile(file, MAX_CONFIG_BYTES, 'a config').buffer).toString('utf8');
  } catch (error) {
    if (!(error instanceof InputFileError)) throw error;
    const problem = error.missing ? `the config file does not exist (looked for ${file}).` : `the config file ${error.problem}.`;
    throw new ConfigError(
      path,
      undefined,
      undefined,
      problem,
      'Give the path of an AxVisor VM config (TOML); the examples are in the configs/ folder of tsvisor, for example configs/hello-x86_64.toml.',
    );
  }
}

function parseToml(path: string, text: string): TomlTable {
  try {
    return parse(text, { integersAsBigInt: true });
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const problem = explainTomlError(error, text);
    throw new ConfigError(
      path,
      { line: error.line, column: error.column },
      undefined,
      `this is not valid TOML: ${problem}.`,
      'Fix the syntax there; an AxVisor config is a TOML file with [base], [kernel] and [devices] tables.',
    );
  }
}

/** smol-toml's first line, made plainer where it is cryptic. */
function explainTomlError(error: TomlError, text: string): string {
  // smol-toml's sentences may end in their own period ("... aborting."): the message adds one.
  const message = error.message.split('\n')[0]?.replace(/^Invalid TOML document: /, '').replace(/\.+$/, '') ?? 'invalid TOML';
  const line = text.split('\n')[error.line - 1] ?? '';
  // A string left open runs into the end of the line, which smol-toml reports as a control character.
  if (/control characters/.test(message) && error.column > line.replace(/\r$/, '').length) return 'a string is not closed on this line';
  return message;
}
