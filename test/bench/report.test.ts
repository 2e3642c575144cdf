/** The bench report writers, on a made-up report: no KVM, no timing. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BOOT_NAMES, formatTable, writeHtml, writeJson, type BenchReport } from '../../src/bench/report.js';

const stat = (cyclesMin: number, cyclesMedian: number, cyclesMax: number) => ({ cyclesMin, cyclesMedian, cyclesMax });
const ms = (min: number, median: number, max: number) => ({ min, median, max });

const report: BenchReport = {
  date: '2025-03-04T05:06:07.890Z',
  host: { cpus: '2 x Test CPU @ 2.00GHz', kernel: '6.1.0-test', node: 'v20.20.2', qemu: '8.2.2' },
  quick: true,
  operations: [
    { name: 'pio-out', tsvisor: stat(9000, 10_000, 12_000), floor: stat(4000, 5000, 5500), qemu: stat(18_000, 20_000, 25_000), tscKhz: 2_000_000 },
    { name: 'eoi', tsvisor: stat(2800, 3000, 3300), qemu: stat(1400, 1500, 1700), tscKhz: 2_000_000 },
    { name: 'a<&>b', tsvisor: stat(120, 123, 130), tscKhz: 2_000_000 },
  ],
  boot: [
    { name: BOOT_NAMES.node, exitMs: ms(38, 40, 45) },
    { name: BOOT_NAMES.tsvisorHello, firstByteMs: ms(80, 90, 95), exitMs: ms(100, 120, 130) },
    { name: BOOT_NAMES.tsvisorBench, firstByteMs: ms(50, 60, 70), exitMs: ms(100, 110, 120) },
    { name: BOOT_NAMES.qemuBench, firstByteMs: ms(150, 180, 200), exitMs: ms(250, 275, 400) },
  ],
  footprint: [
    { name: BOOT_NAMES.tsvisorBench, maxRssKb: 51_200 },
    { name: BOOT_NAMES.qemuBench, maxRssKb: 204_800 },
  ],
  latencies: [{ name: 'LAPIC timer at 1 kHz, lateness (guest in hlt)', medianUs: 104.1, p99Us: 216.6 }],
  micro: [
    { name: 'Bus.write, 1 byte (8 I/O ranges)', nsPerOp: 6.61, rme: 1.6, samples: 9 },
    { name: 'KVM_RUN round trip (guest `out`, koffi)', nsPerOp: 7452.1, rme: 3.5, samples: 10 },
  ],
  notes: ['QEMU ran <without> "kvm" & slowly'],
};

/** The text of the table whose title starts with `title`. */
function section(text: string, title: string): string {
  const found = text.split('\n\n').find((candidate) => candidate.startsWith(title));
  if (!found) throw new Error(`no table ${title} in:\n${text}`);
  return found;
}

/** The cells of the text table's row that starts with `label`. */
function rowOf(text: string, label: string): string[] {
  const line = text.split('\n').find((candidate) => candidate.startsWith(`  ${label}  `));
  if (!line) throw new Error(`no row ${label} in:\n${text}`);
  return [label, ...line.slice(2 + label.length).trim().split(/\s{2,}/)];
}

describe('formatTable', () => {
  const text = formatTable(report);

  it('has the latencies, median and p99 in µs', () => {
    expect(rowOf(section(text, 'Latencies'), 'LAPIC timer at 1 kHz, lateness (guest in hlt)')).toEqual(['LAPIC timer at 1 kHz, lateness (guest in hlt)', '104', '217']);
  });

  it('has a row per operation: medians, ns at the TSC rate, ratios, and "-" where a side is missing', () => {
    expect(rowOf(text, 'pio-out')).toEqual(['pio-out', '10000', '5000', '5000', '20000', '2.00', '0.50']);
    expect(rowOf(text, 'eoi')).toEqual(['eoi', '3000', '1500', '-', '1500', '-', '2.00']);
    expect(rowOf(text, 'a<&>b')).toEqual(['a<&>b', '123', '61.5', '-', '-', '-', '-']);
  });

  it('has the start-up table with its ratios', () => {
    expect(rowOf(text, BOOT_NAMES.node)).toEqual([BOOT_NAMES.node, '-', '40.0 (38.0-45.0)']);
    expect(rowOf(text, BOOT_NAMES.qemuBench)).toEqual([BOOT_NAMES.qemuBench, '180 (150-200)', '275 (250-400)']);
    expect(rowOf(text, 'tsvisor / node (hello vs node -e 0)').slice(1)).toEqual(['-', '3.00']);
    expect(rowOf(text, 'QEMU / tsvisor (bench guest, ops=none)').slice(1)).toEqual(['3.00', '2.50']);
  });

  it('has the footprint table with the RSS ratio, the micro table and the notes', () => {
    const footprint = section(text, 'Footprint');
    expect(rowOf(footprint, BOOT_NAMES.tsvisorBench)).toEqual([BOOT_NAMES.tsvisorBench, '50.0']);
    expect(rowOf(footprint, BOOT_NAMES.qemuBench)).toEqual([BOOT_NAMES.qemuBench, '200']);
    expect(rowOf(text, 'tsvisor RSS / QEMU RSS (bench guest)').slice(1)).toEqual(['0.25']);
    expect(rowOf(text, 'Bus.write, 1 byte (8 I/O ranges)').slice(1)).toEqual(['6.61', '1.6', '9']);
    expect(text).toContain('  - QEMU ran <without> "kvm" & slowly');
    expect(text).toContain('Linux 6.1.0-test');
  });

  it('prints "-" for every ratio when nothing was measured', () => {
    const empty = formatTable({ ...report, operations: [], boot: [], footprint: [], latencies: [], micro: [], notes: [] });
    expect(rowOf(empty, 'tsvisor RSS / QEMU RSS (bench guest)').slice(1)).toEqual(['-']);
    expect(rowOf(empty, 'QEMU / tsvisor (bench guest, ops=none)').slice(1)).toEqual(['-', '-']);
  });
});

describe('the result files', () => {
  let dir: string;
  beforeEach(() => {
    dir = join(mkdtempSync(join(tmpdir(), 'tsvisor-report-')), 'results');
  });
  afterEach(() => rmSync(dirname(dir), { recursive: true, force: true }));

  it('writeJson writes <dir>/<date>.json, without colons, that reads back as the report', () => {
    const path = writeJson(report, dir);
    expect(path).toBe(join(dir, '2025-03-04T05-06-07.json'));
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(report);
  });

  it('writeHtml writes a self-contained page next to it, one chart per operation, text escaped', () => {
    const path = writeHtml(report, dir);
    expect(path).toBe(join(dir, '2025-03-04T05-06-07.html'));
    const html = readFileSync(path, 'utf8');
    const count = (pattern: RegExp) => html.match(pattern)?.length ?? 0;
    expect(count(/<svg[\s>]/g)).toBe(report.operations.length);
    expect(count(/<\/svg>/g)).toBe(report.operations.length);
    for (const tag of ['figure', 'table', 'tbody', 'tr', 'title', 'text']) expect(count(new RegExp(`<${tag}[\\s>]`, 'g'))).toBe(count(new RegExp(`</${tag}>`, 'g')));
    expect(html).not.toMatch(/http/i);
    expect(html).not.toMatch(/<script|<link|src=/i);
    expect(html).toContain('a&lt;&amp;&gt;b');
    expect(html).not.toContain('a<&>b');
    expect(html).toContain('QEMU ran &lt;without&gt; &quot;kvm&quot; &amp; slowly');
    // The axes are labelled, and a missing side is said to be missing.
    expect(html).toContain('>cycles</text>');
    expect(html).toContain('>ns</text>');
    expect(html).toContain('>n/a</text>');
  });

  it('refuses a date that is not one', () => {
    expect(() => writeJson({ ...report, date: 'yesterday' }, dir)).toThrow(RangeError);
  });
});
