/**
 * The bench suite's results, written three ways: a plain-text table for the terminal, a JSON
 * file and a self-contained HTML page (inline CSS and hand-written SVG bar charts: no
 * scripts, nothing fetched) under bench/results/, both named after the run's date.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MicroResult } from './micro.js';

export type { MicroResult } from './micro.js';

/** Per-op cycles of one operation across rounds (each round: the guest's median batch mean). */
export interface Stat {
  readonly cyclesMin: number;
  readonly cyclesMedian: number;
  readonly cyclesMax: number;
}

export interface OperationResult {
  /** The bench guest's operation name: pio-out, pio-in, mmio-write, ... */
  readonly name: string;
  readonly tsvisor?: Stat | undefined;
  /** The C floor (bench/mb-floor). */
  readonly floor?: Stat | undefined;
  readonly qemu?: Stat | undefined;
  /** The TSC frequency the cycles were counted at, for nanoseconds. */
  readonly tscKhz: number;
}

/** Milliseconds across runs. */
export interface MsStat {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export interface BootResult {
  /** One of BOOT_NAMES. */
  readonly name: string;
  /** Start to the first byte on stdout. */
  readonly firstByteMs?: MsStat | undefined;
  /** Start to exit. */
  readonly exitMs: MsStat;
}

export interface FootprintResult {
  /** One of BOOT_NAMES: the same runs as the start-up figures. */
  readonly name: string;
  readonly maxRssKb: number;
}

/** A latency distribution: kicks, wakes, the irq-bench guest's timer and IPIs. */
export interface LatencyResult {
  readonly name: string;
  readonly medianUs: number;
  readonly p99Us: number;
}

export interface BenchReport {
  /** ISO 8601: when the run started. */
  readonly date: string;
  readonly host: { readonly cpus: string; readonly kernel: string; readonly node: string; readonly qemu: string | undefined };
  readonly quick: boolean;
  readonly operations: readonly OperationResult[];
  readonly boot: readonly BootResult[];
  readonly footprint: readonly FootprintResult[];
  readonly latencies: readonly LatencyResult[];
  readonly micro: readonly MicroResult[];
  readonly notes: readonly string[];
}

/** The start-up (and footprint) rows the ratios are computed from. */
export const BOOT_NAMES = {
  node: 'node -e 0',
  tsvisorHello: 'tsvisor hello',
  tsvisorBench: 'tsvisor bench guest (ops=none)',
  qemuBench: 'QEMU bench guest (ops=none)',
} as const;

/** [label, numerator, denominator] */
const BOOT_RATIOS: readonly (readonly [string, string, string])[] = [
  ['tsvisor / node (hello vs node -e 0)', BOOT_NAMES.tsvisorHello, BOOT_NAMES.node],
  ['QEMU / tsvisor (bench guest, ops=none)', BOOT_NAMES.qemuBench, BOOT_NAMES.tsvisorBench],
];
const FOOTPRINT_RATIOS: readonly (readonly [string, string, string])[] = [
  ['tsvisor RSS / QEMU RSS (bench guest)', BOOT_NAMES.tsvisorBench, BOOT_NAMES.qemuBench],
];

const NONE = '-';

// --- numbers -------------------------------------------------------------------------------

const cyclesText = (cycles: number | undefined) => (cycles === undefined ? NONE : String(Math.round(cycles)));

/** Cycles at `tscKhz` in nanoseconds. */
const nanoseconds = (cycles: number, tscKhz: number) => (cycles * 1e6) / tscKhz;

function decimal(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return NONE;
  const magnitude = Math.abs(value);
  return value.toFixed(magnitude >= 100 ? 0 : magnitude >= 10 ? 1 : 2);
}

function nsText(cycles: number | undefined, tscKhz: number): string {
  return cycles === undefined || !(tscKhz > 0) ? NONE : decimal(nanoseconds(cycles, tscKhz));
}

function ratioText(numerator: number | undefined, denominator: number | undefined): string {
  return numerator === undefined || denominator === undefined || denominator === 0 ? NONE : (numerator / denominator).toFixed(2);
}

const msText = (stat: MsStat | undefined) => (stat === undefined ? NONE : `${decimal(stat.median)} (${decimal(stat.min)}-${decimal(stat.max)})`);

// --- the rows, shared by the text and HTML tables --------------------------------------------

interface Table {
  readonly title: string;
  readonly headers: readonly string[];
  readonly rows: readonly (readonly string[])[];
  /** Rows of ratios, set apart below the others. */
  readonly ratios?: readonly (readonly string[])[];
}

function operationTable(report: BenchReport): Table {
  return {
    title: 'VM exits: cycles per op, median over rounds',
    headers: ['operation', 'tsvisor cycles', 'tsvisor ns', 'C cycles', 'QEMU cycles', 'tsvisor/C', 'tsvisor/QEMU'],
    rows: report.operations.map((op) => [
      op.name,
      cyclesText(op.tsvisor?.cyclesMedian),
      nsText(op.tsvisor?.cyclesMedian, op.tscKhz),
      cyclesText(op.floor?.cyclesMedian),
      cyclesText(op.qemu?.cyclesMedian),
      ratioText(op.tsvisor?.cyclesMedian, op.floor?.cyclesMedian),
      ratioText(op.tsvisor?.cyclesMedian, op.qemu?.cyclesMedian),
    ]),
  };
}

function bootTable(report: BenchReport): Table {
  const byName = (name: string) => report.boot.find((boot) => boot.name === name);
  return {
    title: 'Start-up: ms, median (min-max)',
    headers: ['run', 'first byte ms', 'exit ms'],
    rows: report.boot.map((boot) => [boot.name, msText(boot.firstByteMs), msText(boot.exitMs)]),
    ratios: BOOT_RATIOS.map(([label, top, bottom]) => [
      label,
      ratioText(byName(top)?.firstByteMs?.median, byName(bottom)?.firstByteMs?.median),
      ratioText(byName(top)?.exitMs.median, byName(bottom)?.exitMs.median),
    ]),
  };
}

function footprintTable(report: BenchReport): Table {
  const rss = (name: string) => report.footprint.find((entry) => entry.name === name)?.maxRssKb;
  return {
    title: 'Footprint: peak resident memory',
    headers: ['run', 'max RSS MiB'],
    rows: report.footprint.map((entry) => [entry.name, decimal(entry.maxRssKb / 1024)]),
    ratios: FOOTPRINT_RATIOS.map(([label, top, bottom]) => [label, ratioText(rss(top), rss(bottom))]),
  };
}

function latencyTable(report: BenchReport): Table {
  return {
    title: 'Latencies: µs, median and p99',
    headers: ['what', 'median µs', 'p99 µs'],
    rows: report.latencies.map((latency) => [latency.name, decimal(latency.medianUs), decimal(latency.p99Us)]),
  };
}

function microTable(report: BenchReport): Table {
  return {
    title: 'Host micro-benchmarks (benchmark.js)',
    headers: ['benchmark', 'ns/op', '± %', 'samples'],
    rows: report.micro.map((micro) => [micro.name, decimal(micro.nsPerOp), micro.rme.toFixed(1), String(micro.samples)]),
  };
}

const tables = (report: BenchReport) => [operationTable(report), bootTable(report), footprintTable(report), latencyTable(report), microTable(report)];

function hostLine(report: BenchReport): string {
  const { cpus, kernel, node, qemu } = report.host;
  return `${report.date}${report.quick ? ' (quick)' : ''}: ${cpus}; Linux ${kernel}; Node ${node}; QEMU ${qemu ?? 'not found'}`;
}

// --- text ------------------------------------------------------------------------------------

/** The first column left-aligned, the others right-aligned, two spaces apart. */
function textTable(table: Table): string[] {
  const ratios = table.ratios ?? [];
  const all = [table.headers, ...table.rows, ...ratios];
  const widths = table.headers.map((_, column) => Math.max(...all.map((row) => (row[column] ?? '').length)));
  const line = (row: readonly string[]) =>
    `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join('  ')}`.trimEnd();
  const rule = `  ${widths.map((width) => '-'.repeat(width)).join('  ')}`;
  return [table.title, line(table.headers), rule, ...table.rows.map(line), ...(ratios.length > 0 ? [rule, ...ratios.map(line)] : [])];
}

export function formatTable(report: BenchReport): string {
  const sections = [[hostLine(report)], ...tables(report).map(textTable)];
  if (report.notes.length > 0) sections.push(['Notes', ...report.notes.map((note) => `  - ${note}`)]);
  return `${sections.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

// --- files -----------------------------------------------------------------------------------

/** The report's date as a file name: 2025-01-02T03-04-05 (UTC, no colons). */
function reportStem(report: Pick<BenchReport, 'date'>): string {
  return new Date(report.date).toISOString().slice(0, 19).replaceAll(':', '-');
}

function writeReportFile(report: BenchReport, dir: string, extension: string, text: string): string {
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${reportStem(report)}.${extension}`);
  writeFileSync(path, text);
  return path;
}

/** Writes <dir>/<date>.json; returns its path. */
export function writeJson(report: BenchReport, dir: string): string {
  return writeReportFile(report, dir, 'json', `${JSON.stringify(report, null, 2)}\n`);
}

/** Writes <dir>/<date>.html, a page that needs nothing else; returns its path. */
export function writeHtml(report: BenchReport, dir: string): string {
  return writeReportFile(report, dir, 'html', htmlPage(report));
}

// --- HTML ------------------------------------------------------------------------------------

const ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text for HTML content and attribute values. */
function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ENTITIES[char] as string);
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
figcaption { font-weight: 600; text-align: center; }
table { border-collapse: collapse; margin: 0.5em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.2em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
tbody.ratios td { font-style: italic; } tbody.ratios tr:first-child td { border-top: 2px solid #bbb; }
svg text { font: 11px system-ui, sans-serif; fill: #222; }
svg .axis { stroke: #444; } svg .grid { stroke: #eee; } svg .whisker { stroke: #222; }
svg .tsvisor { fill: #3a6ea5; } svg .floor { fill: #7a9a3a; } svg .qemu { fill: #c07a2a; }
`;

function htmlTable(table: Table): string {
  const cells = (tag: string, row: readonly string[]) => `<tr>${row.map((cell) => `<${tag}>${escapeHtml(cell)}</${tag}>`).join('')}</tr>`;
  return [
    `<h2>${escapeHtml(table.title)}</h2>`,
    '<table>',
    `<thead>${cells('th', table.headers)}</thead>`,
    `<tbody>${table.rows.map((row) => cells('td', row)).join('\n')}</tbody>`,
    table.ratios ? `<tbody class="ratios">${table.ratios.map((row) => cells('td', row)).join('\n')}</tbody>` : '',
    '</table>',
  ].join('\n');
}

/** 1, 2 or 5 times a power of ten: a tick step giving at most about `ticks` ticks up to `max`. */
function niceStep(max: number, ticks: number): number {
  const rough = max / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  return ([1, 2, 5, 10].find((factor) => factor * power >= rough) ?? 10) * power;
}

/** Ticks 0, step, 2 step, ... up to `max`. */
function ticksUpTo(max: number, step: number): number[] {
  return Array.from({ length: Math.floor(max / step + 1e-9) + 1 }, (_, i) => i * step);
}

const CHART = { width: 380, height: 240, left: 58, right: 52, top: 20, bottom: 28 } as const;

/**
 * One operation's bar chart: the tsvisor, C floor and QEMU medians as bars with min-max
 * whiskers; cycles on the left axis, nanoseconds (at the operation's TSC rate) on the right.
 */
function operationChart(op: OperationResult): string {
  const bars = [
    { label: 'tsvisor', kind: 'tsvisor', stat: op.tsvisor },
    { label: 'C floor', kind: 'floor', stat: op.floor },
    { label: 'QEMU', kind: 'qemu', stat: op.qemu },
  ];
  const { width, height, left, right, top, bottom } = CHART;
  const plotWidth = width - left - right;
  const plotHeight = height - top - bottom;
  const dataMax = Math.max(0, ...bars.map((bar) => bar.stat?.cyclesMax ?? 0));
  const step = niceStep(dataMax > 0 ? dataMax : 1, 5);
  const axisMax = Math.ceil((dataMax > 0 ? dataMax : 1) / step) * step;
  const y = (cycles: number) => top + plotHeight - (cycles / axisMax) * plotHeight;
  const f = (value: number) => value.toFixed(1);
  const parts: string[] = [`<title>${escapeHtml(`${op.name}: cycles per op`)}</title>`];

  for (const tick of ticksUpTo(axisMax, step)) {
    parts.push(`<line class="grid" x1="${left}" x2="${left + plotWidth}" y1="${f(y(tick))}" y2="${f(y(tick))}"/>`);
    parts.push(`<text x="${left - 4}" y="${f(y(tick) + 4)}" text-anchor="end">${tick}</text>`);
  }
  if (op.tscKhz > 0) {
    const nsMax = nanoseconds(axisMax, op.tscKhz);
    for (const tick of ticksUpTo(nsMax, niceStep(nsMax, 5))) {
      const at = y((tick * op.tscKhz) / 1e6);
      parts.push(`<line class="axis" x1="${left + plotWidth}" x2="${left + plotWidth + 4}" y1="${f(at)}" y2="${f(at)}"/>`);
      parts.push(`<text x="${left + plotWidth + 6}" y="${f(at + 4)}">${+tick.toPrecision(6)}</text>`);
    }
    parts.push(axisTitle('ns', width - 6, top + plotHeight / 2));
    parts.push(`<line class="axis" x1="${left + plotWidth}" x2="${left + plotWidth}" y1="${top}" y2="${top + plotHeight}"/>`);
  }
  parts.push(axisTitle('cycles', 12, top + plotHeight / 2));
  parts.push(`<line class="axis" x1="${left}" x2="${left}" y1="${top}" y2="${top + plotHeight}"/>`);
  parts.push(`<line class="axis" x1="${left}" x2="${left + plotWidth}" y1="${top + plotHeight}" y2="${top + plotHeight}"/>`);

  const slot = plotWidth / bars.length;
  bars.forEach((bar, i) => {
    const center = left + slot * (i + 0.5);
    const barWidth = slot * 0.5;
    parts.push(`<text x="${f(center)}" y="${top + plotHeight + 16}" text-anchor="middle">${bar.label}</text>`);
    const stat = bar.stat;
    if (!stat) {
      parts.push(`<text x="${f(center)}" y="${f(top + plotHeight - 6)}" text-anchor="middle">n/a</text>`);
      return;
    }
    const barTop = y(stat.cyclesMedian);
    parts.push(
      `<rect class="${bar.kind}" x="${f(center - barWidth / 2)}" y="${f(barTop)}" width="${f(barWidth)}" height="${f(top + plotHeight - barTop)}">` +
        `<title>${bar.label}: median ${Math.round(stat.cyclesMedian)} cycles (${Math.round(stat.cyclesMin)}-${Math.round(stat.cyclesMax)})</title></rect>`,
    );
    const [low, high] = [y(stat.cyclesMin), y(stat.cyclesMax)];
    parts.push(`<path class="whisker" d="M${f(center)} ${f(low)}V${f(high)}M${f(center - 6)} ${f(low)}h12M${f(center - 6)} ${f(high)}h12"/>`);
    parts.push(`<text x="${f(center)}" y="${f(Math.min(barTop, high) - 4)}" text-anchor="middle">${Math.round(stat.cyclesMedian)}</text>`);
  });
  return `<svg width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img">\n${parts.join('\n')}\n</svg>`;
}

function axisTitle(text: string, x: number, y: number): string {
  return `<text x="${x}" y="${y.toFixed(1)}" text-anchor="middle" transform="rotate(-90 ${x} ${y.toFixed(1)})">${text}</text>`;
}

function htmlPage(report: BenchReport): string {
  const charts = report.operations.map(
    (op) => `<figure>\n<figcaption>${escapeHtml(op.name)}</figcaption>\n${operationChart(op)}\n</figure>`,
  );
  const notes = report.notes.length > 0 ? `<h2>Notes</h2>\n<ul>${report.notes.map((note) => `<li>${escapeHtml(note)}</li>`).join('\n')}</ul>` : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tsvisor bench ${escapeHtml(report.date)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>tsvisor bench</h1>
<p>${escapeHtml(hostLine(report))}</p>
<h2>Cycles per op: median, whiskers min-max over rounds</h2>
<div class="charts">
${charts.join('\n')}
</div>
${tables(report).map(htmlTable).join('\n')}
${notes}
</body>
</html>
`;
}
