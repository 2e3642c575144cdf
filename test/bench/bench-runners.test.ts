/**
 * The bench's runners: the guest's command line, the parsing of its lines under each VMM, and
 * QEMU's command line; then each runner under real KVM for a few iterations (QEMU only where
 * it is installed). No timing is asserted.
 */
import { describe, expect, it } from 'vitest';
import {
  BenchGuestError,
  FLOOR_OPERATIONS,
  guestCommandLine,
  parseGuestOutput,
  runGuest,
  type GuestRun,
} from '../../src/bench/bench-guest.js';
import { qemuArguments, qemuVersion } from '../../src/bench/qemu.js';
import { describeKvm } from '../helpers/kvm.js';

const RUN: GuestRun = { operations: ['pio-out', 'cpuid'], iterations: 40, batches: 3, warmup: 10, tscKhz: 2_000_000 };
const OUTPUT = `bench guest ready tsc_khz=2000000
bench op=pio-out iterations=40 batches=3 cycles_per_op=24000 min=23000 median=23500 tsc_khz=2000000
bench op=hlt-timer iterations=40 batches=3 cycles_per_op=300000 min=290000 median=295000 tsc_khz=2000000 delay_ns=20000
bench done
`;

describe('the bench guest\'s command line and output', () => {
  it('says which operations, how many iterations, batches and warm-up runs, and the TSC frequency', () => {
    expect(guestCommandLine(RUN)).toBe('ops=pio-out,cpuid iterations=40 batches=3 warmup=10 tsc_khz=2000000');
    expect(guestCommandLine({ ...RUN, operations: 'none' })).toMatch(/^ops=none /);
  });

  it('reads each operation line, also behind the firmware\'s bytes on the banner\'s line (QEMU)', () => {
    const figures = parseGuestOutput(`\x1bc\x1b[2JSeaBIOS\r\nBooting from ROM..${OUTPUT.replace(/\n/g, '\r\n')}`, 'qemu');
    expect(figures).toEqual([
      { name: 'pio-out', iterations: 40, batches: 3, cyclesPerOp: 24000, minCycles: 23000, medianCycles: 23500, tscKhz: 2000000 },
      { name: 'hlt-timer', iterations: 40, batches: 3, cyclesPerOp: 300000, minCycles: 290000, medianCycles: 295000, tscKhz: 2000000 },
    ]);
  });

  it('refuses a run that did not finish, or an operation that failed', () => {
    expect(() => parseGuestOutput('bench guest ready tsc_khz=1\n', 'floor')).toThrow(BenchGuestError);
    expect(() => parseGuestOutput(OUTPUT.replace('bench done', 'bench op=eoi error=no-lapic\nbench done'), 'floor')).toThrow(
      "the bench guest's eoi failed under floor (no-lapic)",
    );
  });

  it('boots QEMU with KVM, one vCPU and 16 MiB, COM1 on stdout and isa-debug-exit at 0xf4', () => {
    const args = qemuArguments('/k.elf32', 'ops=none');
    expect(args.join(' ')).toBe(
      '-enable-kvm -cpu host,-arch-capabilities -m 16 -smp 1 -nographic -no-reboot -nodefaults -serial stdio -fw_cfg name=etc/sercon-port,string=0 -device isa-debug-exit,iobase=0xf4,iosize=0x04 -kernel /k.elf32 -append ops=none',
    );
  });
});

describeKvm('the bench guest under each runner', () => {
  const run = { ...RUN, operations: FLOOR_OPERATIONS };
  const runners = ['tsvisor', 'floor', ...(qemuVersion() ? (['qemu'] as const) : [])] as const;
  for (const runner of runners) {
    it(`${runner}: every operation it serves prints its figures`, async () => {
      const figures = parseGuestOutput(await runGuest(runner, run), runner);
      expect(figures.map((figure) => figure.name)).toEqual(FLOOR_OPERATIONS);
      for (const figure of figures) {
        expect(figure.iterations).toBe(40);
        expect(figure.minCycles).toBeGreaterThan(0);
        expect(figure.minCycles).toBeLessThanOrEqual(figure.medianCycles);
      }
    }, 60_000);
  }
});
