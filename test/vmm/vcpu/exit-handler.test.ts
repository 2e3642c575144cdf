/** The exit handler fed synthetic exits, without KVM (the shape of Firecracker's handle_kvm_exit tests). */
import { beforeEach, describe, expect, it } from 'vitest';
import { Bus } from '../../../src/devices/bus.js';
import { LocalApicStates } from '../../../src/devices/local-apic-state.js';
import { IA32_APIC_BASE, IA32_TSC_DEADLINE, LocalApic } from '../../../src/devices/local-apic.js';
import * as kvm from '../../../src/kvm/index.js';
import { offsetOf } from '../../../src/kvm/layout.js';
import { kvm_run } from '../../../src/kvm/structs.js';
import { ExitAction, ExitHandler } from '../../../src/vmm/vcpu/exit-handler.js';
import {
  bareExit,
  hltExit,
  ioData,
  ioExit,
  mmioData,
  mmioExit,
  msrAnswer,
  msrExit,
  SyntheticVcpu,
  systemEventExit,
} from '../../helpers/synthetic-vcpu.js';

/** A device that records its accesses and answers reads with a fixed byte. */
class RecordingDevice {
  readonly accesses: string[] = [];
  read(offset: number, data: Uint8Array): void {
    this.accesses.push(`read ${offset} ${data.length}`);
    data.fill(0x5a);
  }
  write(offset: number, data: Uint8Array): void {
    this.accesses.push(`write ${offset} ${[...data].join(',')}`);
  }
}

const TSC_KHZ = 1_000_000; // 1 GHz: a cycle a nanosecond
const RAM = { contains: (gpa: number, length: number) => gpa + length <= 0x10000, read: (_gpa: number, length: number) => new Uint8Array(length).fill(0x90) };

let vcpu: SyntheticVcpu;
let port: RecordingDevice;
let mmio: RecordingDevice;
let apic: LocalApic;
let exits: ExitHandler;

function handler(options: { shutdownResetsVcpu?: boolean; exitCounts?: Float64Array; stiShadowHalts?: Float64Array; memory?: typeof RAM } = {}): ExitHandler {
  return new ExitHandler({
    vcpu,
    ioBus,
    mmioBus,
    memory: options.memory ?? RAM,
    stiShadowHalts: options.stiShadowHalts,
    localApic: apic,
    tscKhz: TSC_KHZ,
    shutdownResetsVcpu: options.shutdownResetsVcpu ?? false,
    exitCounts: options.exitCounts ?? new Float64Array(64),
    pvmModule: '/nonexistent',
  });
}

let ioBus: Bus;
let mmioBus: Bus;

beforeEach(() => {
  vcpu = new SyntheticVcpu(0);
  port = new RecordingDevice();
  mmio = new RecordingDevice();
  ioBus = new Bus('I/O port');
  ioBus.register('port device', 0x1230, 8, port);
  mmioBus = new Bus('MMIO');
  mmioBus.register('mmio device', 0xd000_0000, 0x1000, mmio);
  apic = new LocalApic({
    id: 0,
    states: new LocalApicStates(1),
    ipis: { sendIpi: () => {} },
    taskPriority: { cr8: 0 },
    now: () => 1_000,
    onLevelEoi: () => {},
    onAcceptingInterrupts: () => {},
    relocate: () => true,
    report: () => {},
  });
  exits = handler();
});

/** Stages one exit the way KVM_RUN would report it, and hands it to the handler. */
function handle(step: (vcpu: SyntheticVcpu) => number): number {
  vcpu.script.push(step);
  return exits.handle(vcpu.run());
}

describe('I/O and MMIO exits go to the buses', () => {
  it('an OUT reaches its device with its bytes, and the instruction is in flight until the next entry', () => {
    expect(handle(ioExit(0x1232, 'out', 2, [0x34, 0x12]))).toBe(ExitAction.resume);
    expect(port.accesses).toEqual(['write 2 52,18']);
    expect(exits.inFlight).toBe(true);
  });

  it('an IN leaves the device\'s bytes where KVM reads them; string I/O is one access per element', () => {
    handle(ioExit(0x1230, 'in', 4));
    expect(ioData(vcpu, 4)).toEqual([0x5a, 0x5a, 0x5a, 0x5a]);
    handle(ioExit(0x1231, 'out', 1, [1, 2, 3], 3));
    expect(port.accesses).toEqual(['read 0 4', 'write 1 1', 'write 1 2', 'write 1 3']);
  });

  it('an unassigned port reads all ones', () => {
    handle(ioExit(0x80, 'in', 2));
    expect(ioData(vcpu, 2)).toEqual([0xff, 0xff]);
  });

  it('an I/O exit it cannot decode ends the VM with a register dump, never an exception', () => {
    expect(handle(ioExit(0x1230, 'out', 3 as 1))).toBe(ExitAction.end);
    expect(exits.ending).toMatchObject({ kind: 'guest-failure', message: 'KVM reported an I/O exit tsvisor cannot decode (bad size or data offset).' });
    expect((exits.ending as { registers: string }).registers).toContain('vCPU 0 in real mode:');
  });

  it('MMIO reads and writes of 1 to 8 bytes reach the device; a length of 9 ends the VM', () => {
    handle(mmioExit(0xd000_0010, true, [1, 2, 3, 4, 5, 6, 7, 8]));
    handle(mmioExit(0xd000_0020, false, [0, 0]));
    expect(mmio.accesses).toEqual(['write 16 1,2,3,4,5,6,7,8', 'read 32 2']);
    expect(mmioData(vcpu, 2)).toEqual([0x5a, 0x5a]);
    expect(handle(mmioExit(0xd000_0000, true, [1, 2, 3, 4, 5, 6, 7, 8, 9]))).toBe(ExitAction.end);
    expect(exits.ending).toMatchObject({ message: 'KVM reported an MMIO exit of 9 bytes, which tsvisor cannot decode.' });
  });
});

describe('exits the vCPU loop acts on', () => {
  it('KVM_EXIT_INTR (a kick or a timer) clears immediate_exit and completes in-flight I/O', () => {
    handle(ioExit(0x1230, 'out', 1, [0]));
    vcpu.kvmRun.immediateExit = true;
    expect(handle(bareExit(kvm.KVM_EXIT_INTR))).toBe(ExitAction.interrupted);
    expect(vcpu.kvmRun.immediateExit).toBe(false);
    expect(exits.inFlight).toBe(false);
  });

  it('an interrupt window or a lowered TPR asks the loop to inject; HLT asks it to halt', () => {
    expect(handle(bareExit(kvm.KVM_EXIT_IRQ_WINDOW_OPEN))).toBe(ExitAction.interruptWindow);
    expect(handle(bareExit(kvm.KVM_EXIT_SET_TPR))).toBe(ExitAction.interruptWindow);
    expect(handle(hltExit(true))).toBe(ExitAction.halt);
  });
});

describe('an interrupt window inside STI\'s shadow (a host CPU with kvm.dropsStiShadowOnEntry\'s flaw)', () => {
  /** Guest RAM holding `code` at 0x8000 (the synthetic vCPU's flat, unpaged real mode). */
  const ramWith = (code: readonly number[]) => {
    const bytes = new Uint8Array(0x10000);
    bytes.set(code, 0x8000);
    return { contains: (gpa: number, length: number) => gpa + length <= bytes.length, read: (gpa: number, length: number) => bytes.slice(gpa, gpa + length) };
  };
  const STI_HLT_CLI = [0xfb, 0xf4, 0xfa];

  it('completes the HLT an STI shadows: RIP moves past it, and the repair is counted', () => {
    const counter = new Float64Array(1);
    exits = handler({ stiShadowHalts: counter, memory: ramWith(STI_HLT_CLI) });
    vcpu.regs = { ...vcpu.regs, rip: 0x8001n };
    vcpu.readiness(true, true);
    expect(handle(bareExit(kvm.KVM_EXIT_IRQ_WINDOW_OPEN))).toBe(ExitAction.interruptWindow);
    expect(vcpu.regs.rip).toBe(0x8002n);
    expect(counter[0]).toBe(1);
  });

  it('leaves RIP alone on any other instruction, with IF = 0, or on a host without the flaw', () => {
    const counter = new Float64Array(1);
    exits = handler({ stiShadowHalts: counter, memory: ramWith([0x90, 0xf4, 0xfb, 0x90]) });
    vcpu.readiness(true, true);
    for (const rip of [0x8001n, 0x8003n]) {
      vcpu.regs = { ...vcpu.regs, rip };
      handle(bareExit(kvm.KVM_EXIT_IRQ_WINDOW_OPEN));
      expect(vcpu.regs.rip).toBe(rip);
    }
    exits = handler({ stiShadowHalts: counter, memory: ramWith(STI_HLT_CLI) });
    vcpu.regs = { ...vcpu.regs, rip: 0x8001n };
    vcpu.readiness(true, false);
    handle(bareExit(kvm.KVM_EXIT_IRQ_WINDOW_OPEN));
    expect(vcpu.regs.rip).toBe(0x8001n);
    expect(counter[0]).toBe(0);

    exits = handler({ memory: ramWith(STI_HLT_CLI) });
    vcpu.readiness(true, true);
    handle(bareExit(kvm.KVM_EXIT_IRQ_WINDOW_OPEN));
    expect(vcpu.regs.rip).toBe(0x8001n);
  });
});

describe('the Local APIC\'s MSRs (SDM 10.4.4, 10.5.4.1)', () => {
  it('IA32_APIC_BASE reads the APIC\'s value; a write is mirrored into KVM; a reserved bit raises #GP', () => {
    handle(msrExit('read', IA32_APIC_BASE));
    expect(msrAnswer(vcpu)).toEqual({ data: 0xfee0_0900n, error: false });
    handle(msrExit('write', IA32_APIC_BASE, 0xfee0_0900n));
    expect(vcpu.msrWrites).toEqual([{ index: IA32_APIC_BASE, data: 0xfee0_0900n }]);
    handle(msrExit('write', IA32_APIC_BASE, 0xfee0_0900n | (1n << 10n))); // x2APIC: this CPU has none
    expect(msrAnswer(vcpu).error).toBe(true);
  });

  it('IA32_TSC_DEADLINE arms the timer at the guest TSC\'s distance; 0 and 2^64-1 disarm it', () => {
    apic.write(0xf0, new Uint8Array([0xff, 0x01, 0, 0])); // SVR: software-enabled
    apic.write(0x320, new Uint8Array([0x40, 0, 0x04, 0])); // LVT timer: TSC-deadline mode, vector 0x40
    vcpu.tsc = 1_000n;
    handle(msrExit('write', IA32_TSC_DEADLINE, 1_000_000n));
    expect(apic.readTscDeadline()).toBe(1_000_000n);
    expect(apic.nextDeadline).toBeGreaterThan(0);
    expect(apic.nextDeadline).toBeLessThan(Infinity);
    handle(msrExit('write', IA32_TSC_DEADLINE, 2n ** 64n - 1n));
    expect(apic.readTscDeadline()).toBe(2n ** 64n - 1n);
    expect(apic.nextDeadline).toBe(Infinity); // beyond what the host timer can arm: never
    handle(msrExit('write', IA32_TSC_DEADLINE, 0n));
    expect(apic.nextDeadline).toBe(Infinity);
  });

  it('any other MSR raises #GP, as KVM would', () => {
    handle(msrExit('read', 0x1234));
    expect(msrAnswer(vcpu).error).toBe(true);
  });
});

describe('exits that end the VM', () => {
  it('a triple fault shows the registers where KVM keeps them (its Intel side)', () => {
    expect(handle(bareExit(kvm.KVM_EXIT_SHUTDOWN))).toBe(ExitAction.end);
    expect(exits.ending).toMatchObject({
      kind: 'guest-failure',
      message:
        'The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down. Look at the IDT, the stack and the code at RIP below.',
    });
    expect((exits.ending as { registers: string }).registers).toMatch(/^vCPU 0 in real mode:\n/);
  });

  it('a triple fault on KVM\'s AMD side says the registers are lost and names the last exit', () => {
    const counts = new Float64Array(64);
    exits = handler({ shutdownResetsVcpu: true, exitCounts: counts });
    handle(ioExit(0x1230, 'out', 1, [0x41]));
    counts[kvm.KVM_EXIT_IO] = 1; // the loop counts each exit after it is handled
    handle(bareExit(kvm.KVM_EXIT_SHUTDOWN));
    expect(exits.ending).toEqual({
      kind: 'guest-failure',
      message:
        "The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down. Look at the guest's IDT and stack.",
      registers: [
        "vCPU 0: the registers at the fault are lost. On this host KVM runs on AMD SVM, which re-initialises a vCPU when it shuts down, so KVM reports the INIT state, not the guest's.",
        '  the last exit tsvisor handled before the fault: KVM_EXIT_IO, a write to I/O port 0x1230',
        '  exits handled before the fault: 1',
      ].join('\n'),
      tripleFault: true,
    });
  });

  it('a power-off system event ends the VM as a power-off; a reset or crash as a failure', () => {
    handle(systemEventExit(kvm.KVM_SYSTEM_EVENT_SHUTDOWN));
    expect(exits.ending).toEqual({ kind: 'power-off' });
    handle(systemEventExit(kvm.KVM_SYSTEM_EVENT_RESET));
    expect(exits.ending).toMatchObject({ message: 'The guest asked for a reset (KVM_SYSTEM_EVENT_RESET); tsvisor reboots a guest only on a triple fault (under tsvisor-qemu without -no-reboot), so the VM stops.' });
  });

  it('an internal error names what KVM could not do', () => {
    handle(bareExit(kvm.KVM_EXIT_INTERNAL_ERROR, (v) => v.view.setUint32(offsetOf(kvm_run, 'internal.suberror'), kvm.KVM_INTERNAL_ERROR_DELIVERY_EV, true)));
    expect((exits.ending as { message: string }).message).toMatch(/^KVM could not deliver an event \(an exception or interrupt\) to the guest/);
  });

  it('an exit reason it does not handle ends the VM with its name, never loops', () => {
    expect(handle(bareExit(kvm.KVM_EXIT_HYPERCALL))).toBe(ExitAction.end);
    expect(exits.ending).toMatchObject({ message: 'The vCPU exited with KVM_EXIT_HYPERCALL (exit reason 3), which tsvisor does not handle.' });
    expect(handle(bareExit(200))).toBe(ExitAction.end);
    expect(exits.ending).toMatchObject({ message: 'The vCPU exited with an unknown reason (exit reason 200), which tsvisor does not handle.' });
  });
});
