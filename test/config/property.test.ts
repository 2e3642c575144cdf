/**
 * Whatever a user does to a valid config, tsvisor either accepts it or explains the
 * problem with a ConfigError: never any other exception, never a crash.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { HOST, VALID, load } from './fixtures.js';

const FULL = `${VALID.replace('passthrough_devices = []', `passthrough_devices = [
    ["IO APIC", 0xfec0_0000, 0xfec0_0000, 0x1000, 0x1],
    ["HPET", 0xfed0_0000, 0xfed0_0000, 0x1000, 0x1],
]
interrupt_mode = "emu"
passthrough_ports = [[0x3f8, 8]]`).replace('cpu_num = 1', 'cpu_num = 1\nphys_cpu_sets = [1]')}`;

/** Values a user might put anywhere. */
const tomlValue = fc.oneof(
  fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((n) => (n < 0n ? `-0x${(-n).toString(16)}` : `0x${n.toString(16)}`)),
  fc.integer().map(String),
  fc.double({ noNaN: true, noDefaultInfinity: true }).map((x) => (Number.isInteger(x) ? `${x}.0` : String(x))),
  fc.constantFrom('true', 'false', '""', '"kernel.bin"', '[]', '[[]]', '{}', '[1, 2]', '"fs"', '"direct"', '1979-05-27', 'nan', 'inf'),
  fc.string({ maxLength: 8 }).map((s) => JSON.stringify(s)),
);

type Mutation =
  | { kind: 'replace'; index: number; value: string }
  | { kind: 'delete' | 'duplicate'; index: number }
  | { kind: 'insert'; index: number; text: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  // Replace one value (what follows an = or a , or a [) with another.
  fc.record({ kind: fc.constant('replace' as const), index: fc.nat(), value: tomlValue }),
  // Delete a line.
  fc.record({ kind: fc.constant('delete' as const), index: fc.nat() }),
  // Duplicate a line.
  fc.record({ kind: fc.constant('duplicate' as const), index: fc.nat() }),
  // Insert random characters anywhere.
  fc.record({ kind: fc.constant('insert' as const), index: fc.nat(), text: fc.string({ maxLength: 4 }) }),
);

function mutate(text: string, steps: readonly Mutation[]): string {
  let result = text;
  for (const step of steps) {
    const lines = result.split('\n');
    const index = step.index;
    switch (step.kind) {
      case 'replace': {
        const slots = [...result.matchAll(/(?<=[=,[]\s*)[^\s,\][#][^,\]\n#]*/g)];
        const slot = slots[index % Math.max(slots.length, 1)];
        if (slot?.index !== undefined) result = result.slice(0, slot.index) + step.value + result.slice(slot.index + slot[0].length);
        break;
      }
      case 'delete':
        lines.splice(index % lines.length, 1);
        result = lines.join('\n');
        break;
      case 'duplicate': {
        const at = index % lines.length;
        lines.splice(at, 0, lines[at] as string);
        result = lines.join('\n');
        break;
      }
      case 'insert': {
        const at = index % (result.length + 1);
        result = result.slice(0, at) + step.text + result.slice(at);
        break;
      }
    }
  }
  return result;
}

describe('any mutation of a valid config', () => {
  it('the unmutated configs are valid', () => {
    expect(() => load(VALID)).not.toThrow();
    expect(() => load(FULL)).not.toThrow();
  });

  it('validates or yields a ConfigError, never another exception', () => {
    let accepted = 0;
    let rejected = 0;
    fc.assert(
      fc.property(fc.constantFrom(VALID, FULL), fc.array(mutation, { minLength: 1, maxLength: 3 }), (text, steps) => {
        const mutated = mutate(text, steps);
        try {
          load(mutated, HOST);
          accepted++;
        } catch (error) {
          if (!(error instanceof ConfigError)) throw error;
          expect(error.message.length).toBeGreaterThan(20);
          rejected++;
        }
      }),
      { numRuns: 1500 },
    );
    // Both outcomes must have happened: a mutator that only broke (or only kept) configs would prove little.
    expect(accepted).toBeGreaterThan(50);
    expect(rejected).toBeGreaterThan(50);
    // A limit for a slow CPU (the test VM emulates one in software), not a time being asserted.
  }, 180_000);
});
