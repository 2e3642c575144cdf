/**
 * A smoke test of the bench guest (guests/bench, bench/bench-guest.toml): booted by `tsvisor
 * run` with small counts, it prints its banner, one well-formed line per operation in the
 * contract's order, "bench done", and debug-exits with 0 (status 1). No timing is asserted
 * (the machine is shared and noisy); only the shape of the numbers.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { REPO, tsvisor } from '../helpers/tsvisor.js';

const OPS = ['pio-out', 'pio-in', 'mmio-write', 'mmio-read', 'cpuid', 'eoi', 'self-ipi', 'hlt-timer'];
const ITERATIONS = 50;
const BATCHES = 3;
const CMDLINE = `iterations=${ITERATIONS} batches=${BATCHES} warmup=10`;

const LINE =
  /^bench op=([a-z-]+) iterations=(\d+) batches=(\d+) cycles_per_op=(\d+) min=(\d+) median=(\d+) tsc_khz=(\d+)( delay_ns=(\d+))?$/;

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-bench-guest-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** bench/bench-guest.toml with another command line, its kernel path made absolute. */
function configWithCmdline(cmdline: string): string {
  const original = readFileSync(join(REPO, 'bench/bench-guest.toml'), 'utf8');
  const cmdlineLine = /^cmdline = ".*"$/m;
  const kernelLine = /^kernel_path = "\.\.\/guests\/build\/bench\.elf32"$/m;
  expect(original).toMatch(cmdlineLine);
  expect(original).toMatch(kernelLine);
  const text = original
    .replace(cmdlineLine, `cmdline = ${JSON.stringify(cmdline)}`)
    .replace(kernelLine, `kernel_path = ${JSON.stringify(join(REPO, 'guests/build/bench.elf32'))}`);
  const path = join(folder, 'bench-guest.toml');
  writeFileSync(path, text);
  return path;
}

describeKvm('the bench guest under tsvisor run', () => {
  it('prints its banner, one well-formed line per operation in order, "bench done", and exits with status 1', async () => {
    const result = await tsvisor(['run', configWithCmdline(CMDLINE)], { timeoutMs: 25_000 });
    const context = `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`;
    expect(result.stderr, context).toBe('');
    expect(result.status, context).toBe(1);

    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0], context).toMatch(/^bench guest ready tsc_khz=[1-9]\d*$/);
    expect(lines.at(-1), context).toBe('bench done');
    const opLines = lines.slice(1, -1);
    expect(opLines, context).toHaveLength(OPS.length);

    const bannerKhz = Number(/tsc_khz=(\d+)/.exec(lines[0] as string)?.[1]);
    opLines.forEach((line, index) => {
      const match = LINE.exec(line);
      expect(match, `line ${index + 2}: ${line}\n${context}`).not.toBeNull();
      const [, name, iterations, batches, cyclesPerOp, min, median, tscKhz, , delayNs] = match as RegExpExecArray;
      expect(name).toBe(OPS[index]);
      expect(Number(iterations)).toBe(ITERATIONS);
      expect(Number(batches)).toBe(BATCHES);
      for (const figure of [cyclesPerOp, min, median]) {
        expect(Number.isSafeInteger(Number(figure)), line).toBe(true);
        expect(Number(figure), line).toBeGreaterThan(0);
      }
      expect(Number(min), line).toBeLessThanOrEqual(Number(median));
      expect(Number(tscKhz), line).toBe(bannerKhz);
      if (name === 'hlt-timer') expect(delayNs, line).toBe('20000');
      else expect(delayNs, line).toBeUndefined();
    });
  }, 40_000);
});
