/**
 * Fuzz target: the TOML config loader (loadVmConfig), on arbitrary bytes, on the valid
 * fixture with bytes changed, and on arbitrary TOML documents built from the keys tsvisor
 * knows, keys named after JavaScript built-ins, and hostile values (huge integers, paths to a
 * FIFO, a device, a folder). Property: a TsvisorError or a VmSpec, within the bounds of
 * fuzz-property.ts. test/fuzz/corpus/config/*.toml are inputs that once failed, replayed.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { parse, stringify } from 'smol-toml';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import { KNOWN_KEYS } from '../../src/config/schema.js';
import { fifoFolder } from '../helpers/fifo.js';
import { HOST, VALID, folder } from '../config/fixtures.js';
import { FUZZ_TIMEOUT_MS, fuzz, typedOutcome } from './fuzz-property.js';

const CORPUS = new URL('./corpus/config/', import.meta.url);
const fifos = fifoFolder('tsvisor-fuzz-config-');
afterAll(fifos.remove);
const fifo = join(fifos.path, 'pipe');
execFileSync('mkfifo', [fifo]);
mkdirSync(join(folder, 'a-folder'));

const CONFIG = join(folder, 'fuzz.toml');
function loadText(text: string | Uint8Array) {
  writeFileSync(CONFIG, text);
  return typedOutcome(() => loadVmConfig(CONFIG, HOST));
}

const BUILTIN_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'prototype'];
const tableName = fc.oneof(fc.constantFrom(...Object.keys(KNOWN_KEYS), 'machine', 'memory'), fc.constantFrom(...BUILTIN_NAMES), fc.string({ maxLength: 8 }));
/** The keys of the tables inside [tsvisor] lists: multiboot modules and fw_cfg files. */
const ENTRY_KEYS = ['path', 'load_addr', 'cmdline', 'name', 'string', 'file'];
const keyName = fc.oneof(fc.constantFrom(...Object.values(KNOWN_KEYS).flat(), ...ENTRY_KEYS), fc.constantFrom(...BUILTIN_NAMES), fc.string({ maxLength: 8 }));
const interestingInteger = fc.constantFrom(0n, 1n, 2n, 7n, 0xffn, 0x1000n, 0x8000n, 0x10_0000n, 0x100_0000n, 2n ** 31n, 2n ** 32n, 2n ** 52n, 2n ** 53n, 2n ** 63n - 1n, -1n);
const interestingString = fc.constantFrom('kernel.bin', 'bios.bin', 'missing.bin', '/dev/zero', fifo, join(folder, 'a-folder'), 'disk.img', '', 'fs', 'memory', 'multiboot', 'direct', 'bios', '\u0000', '../'.repeat(40));
const scalar = fc.oneof(
  interestingInteger,
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  interestingString,
  fc.string({ maxLength: 12 }),
  fc.boolean(),
  fc.double(),
  // Years 1000-9999: smol-toml writes other years in a form TOML (and its own parser) does not read.
  fc.date({ min: new Date('1000-01-01T00:00:00Z'), max: new Date('9999-12-31T23:59:59Z'), noInvalidDate: true }),
);
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small' }, scalar, fc.array(tie('value'), { maxLength: 5 }), fc.dictionary(keyName, tie('value'), { maxKeys: 3 })),
}));
/** A memory region or device entry, the shape tsvisor reads most: a short array of integers. */
const integerTuple = fc.array(fc.oneof(interestingInteger, fc.bigInt({ min: 0n, max: 2n ** 64n })), { maxLength: 6 });

const newValue = fc.oneof(value, integerTuple, fc.array(integerTuple, { maxLength: 4 }), fc.constant(undefined));
/** Mostly a known key of a known table, so that the edits reach the checks past the first. */
const edit = fc.oneof(
  {
    weight: 8,
    arbitrary: fc.constantFrom('base', 'kernel', 'devices', 'tsvisor').chain((table) =>
      fc.record({
        table: fc.constant(table),
        key: fc.oneof({ weight: 6, arbitrary: fc.constantFrom(...(KNOWN_KEYS[table] as readonly string[])) }, { weight: 1, arbitrary: keyName }),
        value: newValue,
      }),
    ),
  },
  { weight: 1, arbitrary: fc.record({ table: tableName, key: keyName, value: newValue }) },
);

/** The valid fixture's document with `edits` applied: a key set or (value undefined) deleted. */
function edited(edits: readonly { table: string; key: string; value: unknown }[]): Record<string, unknown> {
  const document = parse(VALID, { integersAsBigInt: true }) as Record<string, unknown>;
  for (const { table, key, value: newValue } of edits) {
    const current = Object.hasOwn(document, table) ? document[table] : undefined;
    const target = typeof current === 'object' && current !== null && !Array.isArray(current) ? (current as Record<string, unknown>) : {};
    if (newValue === undefined) delete target[key];
    else Object.defineProperty(target, key, { value: newValue, enumerable: true, writable: true, configurable: true });
    Object.defineProperty(document, table, { value: target, enumerable: true, writable: true, configurable: true });
  }
  return document;
}

function tomlOf(document: Record<string, unknown>): string | undefined {
  try {
    return stringify(document);
  } catch {
    return undefined; // a value TOML cannot write (a bigint past 64 bits): not an input
  }
}

describe('fuzz: the config loader', () => {
  it('arbitrary bytes', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fuzz('config/bytes', fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => void loadText(bytes)));
  });

  it('the valid config with bytes changed', { timeout: FUZZ_TIMEOUT_MS }, () => {
    const valid = new TextEncoder().encode(VALID);
    const change = fc.record({ at: fc.nat(valid.length - 1), byte: fc.integer({ min: 0, max: 255 }) });
    fuzz(
      'config/mutated',
      fc.property(fc.array(change, { minLength: 1, maxLength: 6 }), (changes) => {
        const bytes = valid.slice();
        for (const { at, byte } of changes) bytes[at] = byte;
        loadText(bytes);
      }),
    );
  });

  it('arbitrary TOML documents', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fuzz(
      'config/documents',
      fc.property(fc.array(edit, { minLength: 1, maxLength: 5 }), (edits) => {
        const text = tomlOf(edited(edits));
        if (text !== undefined) loadText(text);
      }),
    );
  });

  it('replays the corpus of inputs that once failed', () => {
    const names = readdirSync(CORPUS).filter((name) => name.endsWith('.toml'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) loadText(readFileSync(new URL(name, CORPUS)));
  });
});
