/**
 * Host-side micro-benchmarks of tsvisor's hot TypeScript paths, timed by benchmark.js: the
 * KVM_RUN call through koffi (one exit round trip of a real vCPU, and a cheap ioctl for
 * koffi's call overhead alone), decoding an I/O exit from kvm_run, bus dispatch, and Local
 * APIC register writes in the device model. Each benchmark runs synchronously on this
 * thread; one op is one call of the function given to benchmark.js.
 */
import Benchmark from 'benchmark';
import { Bus } from '../devices/bus.js';
import type { BusDevice } from '../devices/bus-device.js';
import { APIC_EOI, APIC_SVR, APIC_TPR, LocalApic, SVR_SOFTWARE_ENABLE } from '../devices/local-apic.js';
import { LocalApicStates } from '../devices/local-apic-state.js';
import { KVM_EXIT_IO, KVM_EXIT_IO_OUT } from '../kvm/constants.js';
import { KvmRun } from '../kvm/kvm-run.js';
import { offsetOf } from '../kvm/layout.js';
import { kvm_run } from '../kvm/structs.js';

export interface MicroResult {
  readonly name: string;
  /** The mean time of one op, in nanoseconds. */
  readonly nsPerOp: number;
  /** The relative margin of error of the mean, in percent. */
  readonly rme: number;
  /** How many samples (timed cycles of many ops) the mean is over. */
  readonly samples: number;
}

export interface MicroOptions {
  /** A few seconds in all instead of about half a minute. */
  readonly quick: boolean;
  /** Run the benchmarks that need /dev/kvm (default true). */
  readonly kvm?: boolean;
  /** Where a note goes when a benchmark is dropped (a host without KVM); stderr when absent. */
  readonly notes?: string[];
}

/** Results land here, so that the JIT cannot drop the work it benchmarks. */
let sink = 0;

export async function microBenchmarks(options: MicroOptions): Promise<MicroResult[]> {
  const settings: Benchmark.Options = options.quick
    ? { maxTime: 0.25, minSamples: 5, minTime: 0.04 }
    : { maxTime: 3, minSamples: 30 };
  const note = (text: string) => (options.notes ? options.notes.push(text) : process.stderr.write(`${text}\n`));
  const results = options.kvm === false ? [] : await kvmBenchmarks(settings, note);
  results.push(kvmRunDecode(settings), ...busDispatch(settings), ...lapicWrites(settings));
  if (sink === 0.5) process.stderr.write(''); // keeps `sink` observable
  return results;
}

function measure(name: string, fn: () => void, settings: Benchmark.Options): MicroResult {
  const bench = new Benchmark(name, fn, settings);
  bench.run();
  if (bench.error) throw bench.error;
  return { name, nsPerOp: bench.stats.mean * 1e9, rme: bench.stats.rme, samples: bench.stats.sample.length };
}

// --- (a) KVM_RUN and a cheap ioctl, through koffi ------------------------------------------

/** A real-mode guest at 0x8000: `out 0x80, al; jmp $-2`, an I/O exit on every KVM_RUN. */
const OUT_LOOP = Uint8Array.from([0xe6, 0x80, 0xeb, 0xfc]);
const GUEST_ENTRY = 0x8000;
/** KVM_CAP_USER_MEMORY: any capability does; KVM answers it without leaving the ioctl. */
const CHEAP_CAPABILITY = 3;

async function kvmBenchmarks(settings: Benchmark.Options, note: (text: string) => void): Promise<MicroResult[]> {
  // Loaded here, so that a host where koffi or /dev/kvm fails still gets the other benchmarks.
  let kvm: typeof import('../kvm/index.js');
  let system: import('../kvm/index.js').Kvm;
  try {
    kvm = await import('../kvm/index.js');
    system = kvm.Kvm.open();
  } catch (error) {
    note(`micro-benchmarks: KVM_RUN and KVM_CHECK_EXTENSION skipped: ${messageOf(error)}`);
    return [];
  }
  try {
    const results = [measure('KVM_CHECK_EXTENSION ioctl (koffi call)', () => (sink += system.checkExtension(CHEAP_CAPABILITY)), settings)];
    try {
      results.push(await kvmRunRoundTrip(kvm, system, settings));
    } catch (error) {
      note(`micro-benchmarks: KVM_RUN skipped: ${messageOf(error)}`);
    }
    return results;
  } finally {
    system.close();
  }
}

/** One op: vcpu.run(), the guest's `out` exiting to here and the vCPU resumed. */
async function kvmRunRoundTrip(kvm: typeof import('../kvm/index.js'), system: import('../kvm/index.js').Kvm, settings: Benchmark.Options) {
  const { GuestMemory } = await import('../memory/guest-memory.js');
  const memory = GuestMemory.allocate([{ gpa: 0, size: 0x10000 }]);
  const vm = system.createVm();
  let vcpu: import('../kvm/index.js').Vcpu | undefined;
  try {
    vm.setTssAddr(0xfffbd000);
    memory.registerWith(vm);
    memory.write(GUEST_ENTRY, OUT_LOOP);
    vcpu = vm.createVcpu(0);
    const sregs = vcpu.getSregs();
    vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, selector: 0, base: 0n } });
    vcpu.setRegs({ ...vcpu.getRegs(), rip: BigInt(GUEST_ENTRY), rflags: 2n });
    const run = vcpu.kvmRun;
    const reason = vcpu.run();
    if (reason !== kvm.KVM_EXIT_IO || run.ioPort !== 0x80) {
      throw new Error(`the out-loop guest exited with reason ${reason} (port ${run.ioPort}) instead of an I/O exit on port 0x80`);
    }
    const target = vcpu;
    return measure('KVM_RUN round trip (guest `out`, koffi)', () => (sink += target.run()), settings);
  } finally {
    vcpu?.close();
    vm.close();
    memory.release();
  }
}

// --- (b) decoding an I/O exit from kvm_run -------------------------------------------------

function kvmRunDecode(settings: Benchmark.Options): MicroResult {
  const buffer = new ArrayBuffer(8192);
  const view = new DataView(buffer);
  view.setUint32(offsetOf(kvm_run, 'exit_reason'), KVM_EXIT_IO, true);
  view.setUint8(offsetOf(kvm_run, 'io.direction'), KVM_EXIT_IO_OUT);
  view.setUint8(offsetOf(kvm_run, 'io.size'), 1);
  view.setUint16(offsetOf(kvm_run, 'io.port'), 0x80, true);
  view.setUint32(offsetOf(kvm_run, 'io.count'), 1, true);
  view.setBigUint64(offsetOf(kvm_run, 'io.data_offset'), 4096n, true);
  const run = new KvmRun(buffer);
  return measure(
    'kvm_run I/O exit decode (6 fields)',
    () => (sink += run.exitReason + run.ioDirection + run.ioSize + run.ioPort + run.ioCount + run.ioDataOffset),
    settings,
  );
}

// --- (c) bus dispatch ----------------------------------------------------------------------

class Register implements BusDevice {
  value = 0;
  read(_offset: number, data: Uint8Array): void {
    data[0] = this.value;
  }
  write(_offset: number, data: Uint8Array): void {
    this.value = data[0] as number;
  }
}

/** An I/O port bus laid out like a PC's: eight ranges, the serial port among them. */
function busDispatch(settings: Benchmark.Options): MicroResult[] {
  const bus = new Bus('I/O port');
  const ranges: [string, number, number][] = [
    ['pic1', 0x20, 2],
    ['pit', 0x40, 4],
    ['keyboard', 0x60, 5],
    ['rtc', 0x70, 2],
    ['post', 0x80, 1],
    ['pic2', 0xa0, 2],
    ['debug-exit', 0xf4, 4],
    ['serial', 0x3f8, 8],
  ];
  for (const [name, base, length] of ranges) bus.register(name, base, length, new Register());
  const data = new Uint8Array(1);
  return [
    measure('Bus.write, 1 byte (8 I/O ranges)', () => {
      data[0] = sink & 0xff;
      bus.write(0x3f8, data);
    }, settings),
    measure('Bus.read, 1 byte (8 I/O ranges)', () => {
      bus.read(0x3fd, data);
      sink += data[0] as number;
    }, settings),
  ];
}

// --- (d) Local APIC register writes --------------------------------------------------------

function lapicWrites(settings: Benchmark.Options): MicroResult[] {
  let now = 1_000_000;
  const apic = new LocalApic({
    id: 0,
    states: new LocalApicStates(1),
    ipis: { sendIpi: () => {} },
    taskPriority: { cr8: 0 },
    now: () => now++,
    onLevelEoi: () => {},
    onAcceptingInterrupts: () => {},
    relocate: () => true,
    report: () => {},
  });
  const word = (value: number) => Uint8Array.from([value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, value >>> 24]);
  apic.write(APIC_SVR, word(SVR_SOFTWARE_ENABLE | 0xff));
  const tprs = [word(0x20), word(0x00)];
  const eoi = word(0);
  let turn = 0;
  return [
    measure('LocalApic.write TPR (0x80)', () => apic.write(APIC_TPR, tprs[turn++ & 1] as Uint8Array), settings),
    // Nothing in service, as in the bench guest's `eoi` op: register decode and the ISR scan.
    measure('LocalApic.write EOI (0xb0)', () => apic.write(APIC_EOI, eoi), settings),
  ];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
