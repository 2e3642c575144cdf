/** tsvisor bench: exit latency against the C floor, and start-up against bare Node, in one run. */
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
  });
  if (positionals.length > 0) throw new UsageError(`tsvisor bench takes no arguments, but was given '${positionals[0]}'. See \`tsvisor bench --help\`.`);
  if (values.help) {
    writeSync(1, BENCH_HELP);
    return ExitStatus.ok;
  }
  await runBench({ quick: values.quick ?? false });
  return ExitStatus.ok;
}
