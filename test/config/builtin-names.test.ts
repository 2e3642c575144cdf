/**
 * Issue 15: a table or key named after a JavaScript built-in is an unknown key like any
 * other (a warning at file:line:column), never a TypeError from a lookup that reached
 * Object.prototype.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/config/config-error.js';
import { VALID, load } from './fixtures.js';

const BUILTIN_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

describe('keys named after JavaScript built-ins', () => {
  it.each(BUILTIN_NAMES)('a [%s] table is an unknown table, warned about where it is written', (name) => {
    const spec = load(`[${name}]\nx = 1\n\n${VALID}`);
    expect(spec.warnings).toContainEqual(expect.stringMatching(new RegExp(`config-\\d+\\.toml:1:1: ${name}: tsvisor does not know this key`)));
  });

  it.each(BUILTIN_NAMES)('a %s key in [kernel] is an unknown key', (name) => {
    const spec = load(VALID.replace('[kernel]\n', `[kernel]\n${name} = 1\n`));
    expect(spec.warnings).toContainEqual(expect.stringContaining(`:8:1: kernel.${name}: tsvisor does not know this key`));
  });

  it.each(BUILTIN_NAMES)('a top-level %s key in a sectionless document is not taken for a known table', (name) => {
    expect(() => load(`${name} = 1\n`)).toThrow(ConfigError);
  });
});
