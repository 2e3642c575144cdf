/** Start-up: the wall time of `tsvisor run` on the hello guest, start to exit, beside a bare `node -e 0`. */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../cli.js', import.meta.url));
const HELLO = fileURLToPath(new URL('../../configs/hello-x86_64.toml', import.meta.url));

function wallMs(args: readonly string[]): number {
  const start = process.hrtime.bigint();
  spawnSync(process.execPath, args, { stdio: 'ignore' });
  return Number(process.hrtime.bigint() - start) / 1e6;
}

export const bareNodeMs = () => wallMs(['-e', '0']);
export const helloBootToExitMs = () => wallMs([CLI, 'run', HELLO]);
