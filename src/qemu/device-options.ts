/**
 * -device, -global and -fw_cfg. tsvisor has two of QEMU's -device models: isa-debug-exit
 * (iobase, 0x501 by default, and iosize, 2 by default, as in QEMU's hw/misc/debugexit.c)
 * and pc-testdev (no properties). The rest of a PC (COM1, the PIC, PIT, IO APIC, HPET,
 * fw_cfg) is always there, as on QEMU's PC.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { FwCfgFileSpec } from '../config/vm-spec.js';
import { parseKeyValues, parseUnsigned, type KeyValue } from './keyval.js';
import { QemuError } from './qemu-error.js';

export const DEBUG_EXIT_DEFAULTS = { iobase: 0x501, iosize: 2 } as const;
type DebugExitProperty = keyof typeof DEBUG_EXIT_DEFAULTS;

/** Defaults -global sets for every isa-debug-exit, before a -device's own properties. */
export type DeviceGlobals = Partial<Record<DebugExitProperty, number>>;

export type DeviceRequest =
  | { readonly kind: 'help'; readonly device: string | undefined }
  | { readonly kind: 'isa-debug-exit'; readonly properties: Partial<Record<DebugExitProperty, number>> }
  | { readonly kind: 'pc-testdev' };

/** The devices -device help lists, in QEMU's format and category. */
export const DEVICE_HELP = 'Misc devices:\nname "isa-debug-exit", bus ISA\nname "pc-testdev", bus ISA\n';

/** -device <name>,help: the properties, as QEMU lists them. */
export function devicePropertiesHelp(device: string): string {
  if (device === 'isa-debug-exit') {
    return `isa-debug-exit options:\n  iobase=<uint32>        -  (default: ${DEBUG_EXIT_DEFAULTS.iobase})\n  iosize=<uint32>        -  (default: ${DEBUG_EXIT_DEFAULTS.iosize})\n`;
  }
  return `There are no options for ${device}.\n`;
}

export function parseDevice(text: string): DeviceRequest {
  const option = `-device ${text}`;
  const pairs = parseKeyValues('-device', text, 'driver');
  const driver = pairs.find((pair) => pair.key === 'driver')?.value ?? '';
  if (driver === 'help' || driver === '?') return { kind: 'help', device: undefined };
  if (driver !== 'isa-debug-exit' && driver !== 'pc-testdev') {
    throw new QemuError(option, `tsvisor has no device '${driver}': its -device models are isa-debug-exit and pc-testdev (COM1, the PIC, PIT, IO APIC, HPET and fw_cfg are always there).`);
  }
  const properties = pairs.filter((pair) => pair.key !== 'driver' && pair.key !== 'id');
  if (properties.some((pair) => pair.key === 'help' || pair.key === '?')) return { kind: 'help', device: driver };
  if (driver === 'pc-testdev') {
    const [first] = properties;
    if (first) throw new QemuError(option, `Property 'pc-testdev.${first.key}' not found`);
    return { kind: 'pc-testdev' };
  }
  return { kind: 'isa-debug-exit', properties: debugExitProperties(option, properties) };
}

function debugExitProperties(option: string, pairs: readonly KeyValue[]): Partial<Record<DebugExitProperty, number>> {
  const properties: Partial<Record<DebugExitProperty, number>> = {};
  for (const { key, value } of pairs) {
    if (key !== 'iobase' && key !== 'iosize') throw new QemuError(option, `Property 'isa-debug-exit.${key}' not found`);
    properties[key] = parseUnsigned(option, key, value);
  }
  return properties;
}

/** -global driver.property=value, or -global driver=,property=,value=: only isa-debug-exit's iobase and iosize. */
export function parseGlobal(text: string, globals: DeviceGlobals): void {
  const option = `-global ${text}`;
  const pairs = parseKeyValues('-global', text);
  const named = (key: string) => pairs.find((pair) => pair.key === key)?.value;
  let driver: string | undefined;
  let property: string | undefined;
  let value: string | undefined;
  if (named('driver') !== undefined) {
    [driver, property, value] = [named('driver'), named('property'), named('value')];
  } else if (pairs.length === 1) {
    const { key, value: given } = pairs[0] as KeyValue;
    const dot = key.lastIndexOf('.');
    if (dot > 0) [driver, property, value] = [key.slice(0, dot), key.slice(dot + 1), given];
  }
  if (driver === undefined || property === undefined || value === undefined) {
    throw new QemuError(option, 'expected driver.property=value (or driver=...,property=...,value=...).');
  }
  if (driver !== 'isa-debug-exit' || (property !== 'iobase' && property !== 'iosize')) {
    throw new QemuError(option, `tsvisor has no setting ${driver}.${property}: -global takes isa-debug-exit.iobase and isa-debug-exit.iosize.`);
  }
  globals[property] = parseUnsigned(option, property, value);
}

/** -fw_cfg [name=]name,string=text or -fw_cfg [name=]name,file=path. */
export function parseFwCfg(text: string): FwCfgFileSpec {
  const option = `-fw_cfg ${text}`;
  const pairs = parseKeyValues('-fw_cfg', text, 'name');
  const unknown = pairs.find((pair) => !['name', 'string', 'file', 'gen_id'].includes(pair.key));
  if (unknown) throw new QemuError(option, `Invalid parameter '${unknown.key}'`);
  const named = (key: string) => pairs.find((pair) => pair.key === key)?.value;
  const name = named('name');
  const sources = ['string', 'file', 'gen_id'].filter((key) => named(key) !== undefined);
  if (!name || sources.length !== 1) throw new QemuError(option, 'name, plus exactly one of file, string and gen_id, are needed');
  if (sources[0] === 'gen_id') throw new QemuError(option, 'tsvisor has no VM generation ID device (gen_id): give the file\'s contents with string= or file=.');
  const string = named('string');
  if (string !== undefined) return { name, string };
  const path = resolve(named('file') as string);
  if (!existsSync(path)) throw new QemuError(option, `can't load ${named('file')}: Failed to open file “${named('file')}”: No such file or directory`);
  return { name, file: path };
}
