import { describe, expect, it } from 'vitest';
import { locateToml } from '../../src/config/toml-locations.js';

const TEXT = `# comment
[base]
id = 1 # trailing comment
name = "a \\"quoted\\" # not a comment"
phys_cpu_sets = [1, 2]

[kernel]
memory_regions = [
    [0x0000_0000, 0x100_0000, 0x7, 0], # RAM
    [ 0x200_0000,
      0x1000, 0x3, 1 ],
]
cmdline = """two
lines"""
'quoted key' = 'x'

[devices]
inline = { a = 1, b = [2, 3] }
dotted.key = true
[[many]]
x = 1
[[many]]
x = 2
`;

const at = (map: ReadonlyMap<string, { line: number; column: number }>, path: string) => {
  const location = map.get(path);
  return location && `${location.line}:${location.column}`;
};

describe('locateToml', () => {
  const { values, keys } = locateToml(TEXT);

  it('finds scalar values after comments and quoted strings', () => {
    expect(at(values, 'base.id')).toBe('3:6');
    expect(at(values, 'base.name')).toBe('4:8');
    expect(at(values, 'base.phys_cpu_sets[1]')).toBe('5:21');
  });

  it('finds array elements, across lines and nesting levels', () => {
    expect(at(values, 'kernel.memory_regions')).toBe('8:18');
    expect(at(values, 'kernel.memory_regions[0]')).toBe('9:5');
    expect(at(values, 'kernel.memory_regions[0][3]')).toBe('9:36');
    expect(at(values, 'kernel.memory_regions[1][0]')).toBe('10:7');
    expect(at(values, 'kernel.memory_regions[1][2]')).toBe('11:15');
  });

  it('keeps counting lines through multi-line strings', () => {
    expect(at(values, 'kernel.cmdline')).toBe('13:11');
    expect(at(values, 'kernel.quoted key')).toBe('15:16');
  });

  it('finds keys, tables, inline tables, dotted keys and arrays of tables', () => {
    expect(at(keys, 'base')).toBe('2:1');
    expect(at(keys, 'kernel.memory_regions')).toBe('8:1');
    expect(at(values, 'devices.inline.b[1]')).toBe('18:27');
    expect(at(keys, 'devices.inline.b')).toBe('18:19');
    expect(at(values, 'devices.dotted.key')).toBe('19:14');
    expect(at(values, 'many[0].x')).toBe('21:5');
    expect(at(values, 'many[1].x')).toBe('23:5');
  });

  it('stops quietly on text it cannot follow, keeping what it found', () => {
    const partial = locateToml('a = 1\nb = [1, 2\nc = 3\n');
    expect(at(partial.values, 'a')).toBe('1:5');
    expect(partial.values.has('c')).toBe(false);
    expect(() => locateToml('"""\n[[[')).not.toThrow();
  });
});
