// Bundles the compiled CLI, tsvisor-qemu and the vCPU worker (dist/) into dist/bundle/, what `tsvisor`
// runs: one CommonJS file each. Loading some sixty ES modules (resolving, reading and linking
// each, through Node's asynchronous ESM loader) cost every start ~30 ms on the main thread and
// again on each vCPU thread, the critical path to the guest's first instruction; one
// CommonJS file, loaded synchronously, does not.
//
// dist/bundle/ sits at the same depth as dist/<layer>/, so the relative URLs in the code (the
// worker next to the CLI, ../../native/..., ../../guests/..., ../../bench/...,
// ../../package.json) resolve alike from either; no module in dist/ itself may use one.
// import.meta.url becomes the bundle file's own URL. koffi (a native addon) and benchmark
// (which finds lodash and platform at run time) stay requires from node_modules.
import { chmodSync, writeFileSync } from 'node:fs';
import { build } from 'esbuild';

const OUT = 'dist/bundle';
const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['koffi', 'benchmark'],
  define: { 'import.meta.url': '__tsvisorModuleUrl' },
  banner: { js: 'const __tsvisorModuleUrl = require("node:url").pathToFileURL(__filename).href;' },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['dist/cli.js'], outfile: `${OUT}/cli.js` });
await build({ ...common, entryPoints: ['dist/vmm/vcpu-worker.js'], outfile: `${OUT}/vcpu-worker.js` });
// tsvisor-qemu, QEMU's command line (src/qemu/main.ts), beside the CLI so that it finds the same worker.
await build({ ...common, entryPoints: ['dist/qemu/main.js'], outfile: `${OUT}/tsvisor-qemu.js` });
// The package is "type": "module"; these files are CommonJS.
writeFileSync(`${OUT}/package.json`, '{ "type": "commonjs" }\n');
chmodSync(`${OUT}/cli.js`, 0o755);
chmodSync(`${OUT}/tsvisor-qemu.js`, 0o755);
