// Bundles the compiled CLI and the vCPU worker (dist/) into dist/bundle/, what `tsvisor`
// runs: resolving and reading some sixty module files costs a start-up ~30 ms on both the
// main thread and each vCPU thread; one file per entry point (plus shared chunks) does not.
//
// dist/bundle/ sits at the same depth as dist/<layer>/, so the relative URLs in the code (the
// worker next to its chunk, ../../native/..., ../../guests/..., ../../bench/...,
// ../../package.json) resolve alike from either; no module in dist/ itself may use one. koffi (a native addon) and benchmark (which finds lodash and platform at run
// time) stay imports from node_modules.
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli.js', 'dist/vmm/vcpu-worker.js'],
  outdir: 'dist/bundle',
  entryNames: '[name]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: ['koffi', 'benchmark'],
  logLevel: 'warning',
});
chmodSync('dist/bundle/cli.js', 0o755);
