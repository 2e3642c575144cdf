#!/usr/bin/env node
/**
 * npm run fuzz -- [--cases N] [--seed S] [target ...]: runs the fuzz targets of test/fuzz
 * (config, image-loaders, fat32; all by default) for N cases each (default 10,000) from seed S
 * (default: a new one each run, printed, so that a failure can be replayed with --seed).
 * `npm test` runs the same targets for 300 seeded cases each.
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { cases: { type: 'string', default: '10000' }, seed: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  allowPositionals: true,
});
if (values.help) {
  console.log('Usage: npm run fuzz -- [--cases N] [--seed S] [config|image-loaders|fat32 ...]');
  process.exit(0);
}
const cases = Number(values.cases);
const seed = values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : Number(values.seed);
if (!Number.isSafeInteger(cases) || cases < 1 || !Number.isSafeInteger(seed)) {
  console.error('fuzz: --cases takes a positive whole number and --seed a whole number.');
  process.exit(2);
}
const files = positionals.length === 0 ? ['test/fuzz/'] : positionals.map((target) => `test/fuzz/${target}.fuzz.test.ts`);
console.log(`fuzz: ${cases} cases per target, seed ${seed} (replay with --seed ${seed})`);
// One target's cases run in one test: vitest's own timeout is off, each case keeps its bound (test/fuzz/fuzz-property.ts).
const result = spawnSync('npx', ['vitest', 'run', '--testTimeout=0', ...files], {
  stdio: 'inherit',
  env: { ...process.env, TSVISOR_FUZZ_CASES: String(cases), TSVISOR_FUZZ_SEED: String(seed) },
});
process.exit(result.status ?? 1);
