/**
 * tsvisor bench: each measurement side by side with its reference, interleaved A B A B
 * over several rounds so that drift on a shared machine hits both alike; medians and
 * ratios are printed.
 */
import { writeSync } from 'node:fs';
import { floorNsPerExit, tsvisorNsPerExit } from './exit-latency.js';
import { bareNodeMs, helloBootToExitMs } from './startup.js';

export interface BenchOptions {
  readonly quick: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

function interleave(rounds: number, a: () => Promise<number> | number, b: () => Promise<number> | number) {
  return (async () => {
    const first: number[] = [];
    const second: number[] = [];
    for (let round = 0; round < rounds; round++) {
      first.push(await a());
      second.push(await b());
    }
    return { a: median(first), b: median(second) };
  })();
}

const line = (text: string) => writeSync(1, `${text}\n`);
const row = (label: string, value: string) => line(`  ${label.padEnd(44)}${value.padStart(12)}`);

export async function runBench(options: BenchOptions): Promise<void> {
  const iterations = options.quick ? 50_000 : 200_000;
  const exitRounds = options.quick ? 3 : 7;
  const startRounds = options.quick ? 5 : 15;

  await tsvisorNsPerExit(1000); // warm up: load koffi and compile the exit path
  const exits = await interleave(exitRounds, () => floorNsPerExit(iterations), () => tsvisorNsPerExit(iterations));
  line(`VM exit: guest \`out\` to an unassigned port (${iterations} exits, median of ${exitRounds} rounds)`);
  row('C floor (bench/exit-floor)', `${(exits.a / 1000).toFixed(2)} µs`);
  row('tsvisor (Vm, exit loop on the main thread)', `${(exits.b / 1000).toFixed(2)} µs`);
  row('tsvisor / C', `${(exits.b / exits.a).toFixed(3)}`);

  const startup = await interleave(startRounds, bareNodeMs, helloBootToExitMs);
  line(`Start-up: process start to exit (median of ${startRounds} runs)`);
  row('node -e 0', `${startup.a.toFixed(1)} ms`);
  row('tsvisor run configs/hello-x86_64.toml', `${startup.b.toFixed(1)} ms`);
  row('tsvisor / node -e 0', `${(startup.b / startup.a).toFixed(2)}`);
}
