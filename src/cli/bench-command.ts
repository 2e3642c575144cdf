/** tsvisor bench: what each VM exit costs in tsvisor beside the C floor and QEMU, boot and footprint, in one run. */
import { writeSync } from 'node:fs';
import { ExitStatus } from '../errors.js';
import { runBench } from '../bench/run-bench.js';
import { BENCH_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { UsageError } from './usage-error.js';

export async function benchCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandOptions('bench', args, {
    help: { type: 'boolean', short: 'h' },
    quick: { type: 'boolean' },
    'install-peers': { type: 'boolean' },
  });
  if (positionals.length > 0) throw new UsageError(`tsvisor bench takes no arguments, but was given '${positionals[0]}'. See \`tsvisor bench --help\`.`);
  if (values.help) {
    writeSync(1, BENCH_HELP);
    return ExitStatus.ok;
  }
  await runBench({ quick: values.quick ?? false, installPeers: values['install-peers'] ?? false });
  return ExitStatus.ok;
}
