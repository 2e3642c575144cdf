/**
 * Interrupt costs and latencies as a guest sees them: the irq-bench guest (guests/irq-bench)
 * measures in TSC cycles, on two vCPUs, the cost of an EOI write, a self-IPI round trip, the
 * lateness of the LAPIC timer at 1 kHz (TSC-deadline mode, hlt between ticks) and the
 * latency of a fixed IPI from vCPU 0 to vCPU 1, spinning and halted, plus an IPI ping-pong
 * and the cost of rdtsc itself.
 * It prints one line per measurement, `irq-bench <name> key=value ...` (integers; cycle
 * figures come with tsc_khz), and powers off. The harness writes the counts into guest RAM
 * before the VM runs, catches COM1 (guest-run.ts) and parses the lines.
 */
import { fileURLToPath } from 'node:url';
import { loadVmConfig } from '../config/load-config.js';
import { runGuestForOutput } from './guest-run.js';

const IRQ_BENCH_CONFIG = fileURLToPath(new URL('../../bench/irq-bench.toml', import.meta.url));
/** The guest's parameter block (guests/irq-bench/irq-bench.c, struct irq_bench_params). */
const PARAMS_GPA = 0x5000;
const PARAMS_MAGIC = 0x4251_5249; // "IRQB"
/** A guest that takes longer has lost an interrupt (or the host is far too busy). */
const RUN_LIMIT_MS = 180_000;

export interface IrqBenchCounts {
  /** EOI writes timed back to back. */
  readonly eoiIterations: number;
  /** Self-IPI round trips. */
  readonly selfIpiIterations: number;
  /** LAPIC timer ticks at 1 kHz (so about this many milliseconds). At most 20000. */
  readonly timerTicks: number;
  /** Samples per IPI measurement (spin, halt, ping-pong). At most 20000. */
  readonly ipiSamples: number;
}

/** A latency distribution, in nanoseconds. */
export interface LatencyNs {
  readonly samples: number;
  readonly medianNs: number;
  readonly p99Ns: number;
  readonly minNs: number;
  readonly maxNs: number;
}

export interface InterruptLatencies {
  /** The guest's TSC frequency (CPUID 0x15), which converts its cycles. */
  readonly tscKhz: number;
  /**
   * Two back-to-back rdtsc, median: the clock's own cost, which every timed sample below
   * includes once (rdtsc traps on a kvm_pvm host).
   */
  readonly rdtscCycles: number;
  /** One EOI write (a 32-bit MMIO write to LAPIC 0xb0, nothing in service): the mean of a plain loop, and the median of single timed writes. */
  readonly eoi: { readonly iterations: number; readonly cycles: number; readonly medianCycles: number; readonly ns: number; readonly medianNs: number };
  /**
   * ICR write (self, fixed) until the handler's flag is seen, IF = 1: mean and median; and the
   * median of its first part, ICR write to the handler's entry (the rest is the handler's EOI).
   */
  readonly selfIpi: {
    readonly iterations: number;
    readonly cycles: number;
    readonly medianCycles: number;
    readonly medianToHandlerCycles: number;
    readonly ns: number;
    readonly medianNs: number;
  };
  /**
   * rdtsc() in the handler minus the TSC deadline. `skipped`: re-arms that found the next
   * deadline already past (moved to now + 1 ms); `early`: ticks taken before their deadline.
   */
  readonly timer: LatencyNs & { readonly mode: string; readonly hz: number; readonly skipped: number; readonly early: number };
  /** One way, vCPU 0 -> vCPU 1 (rdtsc on each side), vCPU 1 spinning with IF = 1 and halted in hlt. */
  readonly ipi: { readonly spin: LatencyNs; readonly halt: LatencyNs };
  /** vCPU 0 -> vCPU 1 -> vCPU 0 (vCPU 1's handler answers), vCPU 1 spinning: on vCPU 0's TSC alone. */
  readonly ipiRoundTrip: LatencyNs;
}

/** One `irq-bench <name> key=value ...` line: numbers where the value is an integer. */
export interface IrqBenchLine {
  readonly name: string;
  readonly fields: Readonly<Record<string, number | string>>;
}

/** The lines the guest prints, in order, and the integer keys each must carry. */
const EXPECTED: readonly { readonly name: string; readonly mode?: string; readonly keys: readonly string[] }[] = [
  { name: 'rdtsc', keys: ['samples', 'median_cycles', 'tsc_khz'] },
  { name: 'eoi', keys: ['iterations', 'cycles_per_op', 'median_cycles', 'tsc_khz'] },
  { name: 'self-ipi', keys: ['iterations', 'cycles_per_op', 'median_cycles', 'median_to_handler_cycles', 'tsc_khz'] },
  { name: 'timer-lateness', keys: ['hz', 'ticks', 'median_ns', 'p99_ns', 'min_ns', 'max_ns', 'skipped', 'early', 'tsc_khz'] },
  { name: 'ipi-latency', mode: 'spin', keys: ['samples', 'median_ns', 'p99_ns', 'min_ns', 'max_ns', 'tsc_khz'] },
  { name: 'ipi-latency', mode: 'halt', keys: ['samples', 'median_ns', 'p99_ns', 'min_ns', 'max_ns', 'tsc_khz'] },
  { name: 'ipi-roundtrip', mode: 'spin', keys: ['samples', 'median_ns', 'p99_ns', 'min_ns', 'max_ns', 'tsc_khz'] },
];

/** Parses one line; undefined for anything that is not an irq-bench line. */
export function parseIrqBenchLine(text: string): IrqBenchLine | undefined {
  const words = text.trim().split(/\s+/);
  if (words[0] !== 'irq-bench' || words.length < 2) return undefined;
  const fields: Record<string, number | string> = {};
  for (const word of words.slice(2)) {
    const match = /^([a-z_0-9]+)=(\S+)$/.exec(word);
    if (!match) throw new Error(`irq-bench: cannot parse "${word}" in: ${text}`);
    const value = match[2] as string;
    fields[match[1] as string] = /^-?\d+$/.test(value) ? Number(value) : value;
  }
  return { name: words[1] as string, fields };
}

/** Turns the guest's COM1 output into figures; throws on an error line or a missing or malformed one. */
export function parseIrqBenchOutput(output: string): InterruptLatencies {
  const lines = output.split('\n').map(parseIrqBenchLine).filter((line) => line !== undefined);
  const failure = lines.find((line) => line.name === 'error');
  if (failure) throw new Error(`the irq-bench guest failed: ${JSON.stringify(failure.fields)}\n${output}`);
  const found = EXPECTED.map((expected) => {
    const line = lines.find((candidate) => candidate.name === expected.name && (expected.mode === undefined || candidate.fields.mode === expected.mode));
    if (!line) throw new Error(`the irq-bench guest printed no "${expected.name}${expected.mode ? ` mode=${expected.mode}` : ''}" line:\n${output}`);
    for (const key of expected.keys) {
      if (typeof line.fields[key] !== 'number') throw new Error(`irq-bench ${expected.name}: ${key} is missing or not an integer:\n${output}`);
    }
    return line.fields as Readonly<Record<string, number>>;
  });
  type Fields = Record<string, number>;
  const [rdtsc, eoi, selfIpi, timer, spin, halt, roundTrip] = found as [Fields, Fields, Fields, Fields, Fields, Fields, Fields];
  const tscKhz = eoi.tsc_khz as number;
  if (!(tscKhz > 0)) throw new Error(`irq-bench: tsc_khz=${tscKhz}`);
  const ns = (cycles: number) => (cycles * 1e6) / tscKhz;
  const latency = (fields: Record<string, number>): LatencyNs => ({
    samples: fields.samples as number,
    medianNs: fields.median_ns as number,
    p99Ns: fields.p99_ns as number,
    minNs: fields.min_ns as number,
    maxNs: fields.max_ns as number,
  });
  return {
    tscKhz,
    rdtscCycles: rdtsc.median_cycles as number,
    eoi: {
      iterations: eoi.iterations as number,
      cycles: eoi.cycles_per_op as number,
      medianCycles: eoi.median_cycles as number,
      ns: ns(eoi.cycles_per_op as number),
      medianNs: ns(eoi.median_cycles as number),
    },
    selfIpi: {
      iterations: selfIpi.iterations as number,
      cycles: selfIpi.cycles_per_op as number,
      medianCycles: selfIpi.median_cycles as number,
      medianToHandlerCycles: selfIpi.median_to_handler_cycles as number,
      ns: ns(selfIpi.cycles_per_op as number),
      medianNs: ns(selfIpi.median_cycles as number),
    },
    timer: {
      mode: String(timer.mode),
      hz: timer.hz as number,
      samples: timer.ticks as number,
      medianNs: timer.median_ns as number,
      p99Ns: timer.p99_ns as number,
      minNs: timer.min_ns as number,
      maxNs: timer.max_ns as number,
      skipped: timer.skipped as number,
      early: timer.early as number,
    },
    ipi: { spin: latency(spin), halt: latency(halt) },
    ipiRoundTrip: latency(roundTrip),
  };
}

/** Runs the irq-bench guest with `counts`; returns its COM1 output (throws unless it powered off). */
export function runIrqBenchGuest(counts: IrqBenchCounts): Promise<string> {
  const words = [PARAMS_MAGIC, counts.eoiIterations, counts.selfIpiIterations, counts.timerTicks, counts.ipiSamples];
  return runGuestForOutput(loadVmConfig(IRQ_BENCH_CONFIG), {
    name: 'irq-bench',
    limitMs: RUN_LIMIT_MS,
    expected: (exit) => exit.kind === 'power-off',
    beforeRun: (vm) => words.forEach((word, i) => vm.memory.write32(PARAMS_GPA + 4 * i, word)),
  });
}

/** Runs the guest and parses what it measured. */
export async function interruptLatencies(counts: IrqBenchCounts): Promise<InterruptLatencies> {
  return parseIrqBenchOutput(await runIrqBenchGuest(counts));
}
