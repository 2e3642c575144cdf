/**
 * The vCPU loop without KVM: a synthetic vCPU plays scripted exits while the loop does what it
 * does with a real one (INIT and SIPI latched in the APIC, HLT, injection), on this thread.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Bus } from '../../../src/devices/bus.js';
import { ATTENTION_INIT, ATTENTION_NMI, ENABLE_GLOBAL, ENABLE_SOFTWARE, LocalApicStates } from '../../../src/devices/local-apic-state.js';
import { APIC_LVT_TIMER, APIC_SVR, APIC_TIMER_DIVIDE, APIC_TIMER_INITIAL_COUNT, APIC_TPR, LVT_MASKED, LocalApic } from '../../../src/devices/local-apic.js';
import { monotonicNanos } from '../../../src/host/clock.js';
import { ExitHandler } from '../../../src/vmm/vcpu/exit-handler.js';
import { VcpuLoop, type RunControl } from '../../../src/vmm/vcpu/vcpu-loop.js';
import { VcpuState, VmControl, VmState } from '../../../src/vmm/vm-control.js';
import { hltExit, ioExit, SyntheticVcpu, type ExitStep } from '../../helpers/synthetic-vcpu.js';

const noShim = { setImmediateExitByte: () => {}, armDeadlineTimer: () => {}, releaseThread: () => {} };

let states: LocalApicStates;
let control: VmControl;

beforeEach(() => {
  states = new LocalApicStates(2);
  control = VmControl.create(2);
  control.setVmState(VmState.running);
});

/** vCPU `id` with a real Local APIC over the shared states, and its loop. */
function vcpuWithLoop(id: number) {
  const vcpu = new SyntheticVcpu(id);
  const apic = new LocalApic({
    id,
    states,
    ipis: { sendIpi: () => {} },
    taskPriority: vcpu.kvmRun,
    now: monotonicNanos,
    onLevelEoi: () => {},
    onAcceptingInterrupts: () => {},
    relocate: () => true,
    report: () => {},
  });
  const local: RunControl = { exit: undefined };
  const counts = new Float64Array(64);
  const exits = new ExitHandler({
    vcpu, ioBus: new Bus('I/O port'), mmioBus: new Bus('MMIO'), memory: { contains: () => false, read: () => new Uint8Array(0) },
    localApic: apic, tscKhz: 1_000_000, shutdownResetsVcpu: false, exitCounts: counts,
  });
  const loop = new VcpuLoop({ vcpu, immediateExitAddress: 0n, control, exits, localApic: apic, local, shim: noShim, exitCounts: counts, exitNanos: new Float64Array(64), timed: false, onGuestReset: 'exit', onGuestPowerOff: 'exit', onGuestCrash: 'exit', tellMain: () => {} });
  /** An exit that ends the VM as the guest's debug-exit write would, running `check` first. */
  const finish =
    (check: () => void = () => {}): ExitStep =>
    (v) => {
      check();
      local.exit = { kind: 'debug-exit', value: 0 };
      return ioExit(0xf4, 'out', 1, [0])(v);
    };
  return { vcpu, apic, loop, finish };
}

const write = (apic: LocalApic, offset: number, value: number) => apic.write(offset, new Uint8Array(new Uint32Array([value]).buffer));
const enable = (apic: LocalApic) => write(apic, APIC_SVR, 0x1ff);

describe('INIT and SIPI latched in the target\'s APIC (SDM vol. 3A, 8.4.4.1)', () => {
  it('an AP takes INIT followed at once by SIPI, both latched before its thread looked, and starts at the vector', () => {
    const ap = vcpuWithLoop(1);
    states.raise(1, ATTENTION_INIT);
    states.latchStartup(1, 0x08);
    ap.vcpu.script = [ap.finish(() => {
      expect(ap.vcpu.sregs.cs.base).toBe(0x8000n);
      expect(ap.vcpu.regs.rip).toBe(0n);
      expect(control.vcpuState(1)).toBe(VcpuState.running);
    })];
    expect(ap.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('a SIPI alone starts an AP that waits from power-on; a second SIPI to the running AP is ignored', () => {
    const ap = vcpuWithLoop(1);
    states.latchStartup(1, 0x10);
    ap.vcpu.script = [
      (v) => {
        expect(v.sregs.cs.base).toBe(0x10000n);
        v.regs = { ...v.regs, rip: 0x1234n };
        states.latchStartup(1, 0x20); // INIT-SIPI-SIPI's second SIPI, after the first started it
        return ioExit(0x80, 'out', 1, [0])(v);
      },
      ap.finish(() => expect(ap.vcpu.regs.rip).toBe(0x1234n)),
    ];
    expect(ap.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('INIT to a running AP makes it wait for a SIPI, and the SIPI that follows starts it again', () => {
    const ap = vcpuWithLoop(1);
    states.latchStartup(1, 0x08);
    ap.vcpu.script = [
      (v) => {
        states.raise(1, ATTENTION_INIT); // another vCPU's INIT and SIPI, sent while this one runs
        states.latchStartup(1, 0x09);
        return ioExit(0x80, 'out', 1, [0])(v);
      },
      ap.finish(() => expect(ap.vcpu.sregs.cs.base).toBe(0x9000n)),
    ];
    expect(ap.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('INIT resets the bootstrap processor to the reset vector (RDX the signature, nothing pending), and its Local APIC', () => {
    const bsp = vcpuWithLoop(0);
    enable(bsp.apic);
    bsp.vcpu.script = [
      (v) => {
        states.raise(0, ATTENTION_INIT);
        return ioExit(0x80, 'out', 1, [0])(v);
      },
      bsp.finish(() => {
        expect(bsp.vcpu.sregs.cs).toMatchObject({ selector: 0xf000, base: 0xffff_0000n });
        expect(bsp.vcpu.regs).toMatchObject({ rip: 0xfff0n, rdx: BigInt(bsp.vcpu.signature), rflags: 0x2n });
        // A vector queued with KVM_INTERRUPT or an NMI does not survive INIT.
        expect(bsp.vcpu.events).toMatchObject({ interrupt: { injected: 0 }, nmi: { injected: 0, pending: 0 } });
        expect(bsp.vcpu.debugregs).toMatchObject({ dr6: 0xffff0ff0n, dr7: 0x400n });
        expect(states.accepting(0)).toBe(false); // SVR back to its reset value: software-disabled
      }),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('INIT to the last vCPU able to run, without the BSP flag, ends the VM instead of waiting forever', () => {
    const bsp = vcpuWithLoop(0);
    bsp.apic.writeApicBase(0xfee0_0800n); // software cleared the BSP flag
    bsp.vcpu.script = [
      (v) => {
        states.raise(0, ATTENTION_INIT);
        return ioExit(0x80, 'out', 1, [0])(v);
      },
    ];
    expect(bsp.loop.run()).toMatchObject({
      kind: 'guest-failure',
      message: 'vCPU 0 waits for a start-up IPI, and no other vCPU is running or can be woken to send one: the VM can never continue.',
    });
  });
});

describe('HLT ends only on what ends it on hardware (SDM vol. 2A HLT, vol. 3A 10.8)', () => {
  it('with IF = 1: not a masked timer, not a vector the task priority holds back; a deliverable vector does', () => {
    const bsp = vcpuWithLoop(0);
    enable(bsp.apic);
    write(bsp.apic, APIC_TPR, 0x40);
    states.request(0, 0x35, false); // held back by TPR 0x40
    write(bsp.apic, APIC_TIMER_DIVIDE, 0b1011); // divide by 1: a count is a nanosecond
    write(bsp.apic, APIC_LVT_TIMER, LVT_MASKED | 0x60);
    write(bsp.apic, APIC_TIMER_INITIAL_COUNT, 1_000_000); // a masked one-shot in 1 ms
    let unmasked = false;
    bsp.vcpu.script = [
      hltExit(true),
      bsp.finish(() => {
        expect(unmasked).toBe(true); // the halt outlived the masked timer's deadline
        expect(bsp.vcpu.injected).toEqual([0x70]);
      }),
    ];
    bsp.vcpu.readiness(true, true);
    // Once halted, the masked timer fires into nothing; then an unmasked one brings vector 0x70.
    const original = bsp.apic.serviceTimer.bind(bsp.apic);
    bsp.apic.serviceTimer = (now: number) => {
      original(now);
      if (!unmasked && bsp.apic.nextDeadline === Infinity) {
        unmasked = true;
        write(bsp.apic, APIC_LVT_TIMER, 0x70);
        write(bsp.apic, APIC_TIMER_INITIAL_COUNT, 1_000_000);
      }
    };
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('with IF = 0: an NMI ends it, and is injected', () => {
    const bsp = vcpuWithLoop(0);
    const nmiDuringHalt: ExitStep = (v) => {
      states.raise(0, ATTENTION_NMI); // sent by another processor as this one halts
      return hltExit(false)(v);
    };
    bsp.vcpu.script = [nmiDuringHalt, bsp.finish(() => expect(bsp.vcpu.nmis).toBe(1))];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('with IF = 0 on the last vCPU able to run, the VM ends with the reason instead of hanging', () => {
    const bsp = vcpuWithLoop(0);
    bsp.vcpu.script = [hltExit(false)];
    expect(bsp.loop.run()).toMatchObject({ kind: 'guest-failure', message: expect.stringMatching(/^vCPU 0 halted with interrupts disabled \(HLT after CLI\)/) });
  });
});

describe('injection before entry', () => {
  it('injects the highest deliverable vector; a lower one waits for its EOI, with no window asked (SDM 10.8.3.1)', () => {
    const bsp = vcpuWithLoop(0);
    states.setEnableBits(0, ENABLE_GLOBAL | ENABLE_SOFTWARE);
    states.request(0, 0x40, false);
    states.request(0, 0x50, false);
    bsp.vcpu.readiness(true, true);
    bsp.vcpu.script = [
      bsp.finish(() => {
        expect(bsp.vcpu.injected).toEqual([0x50]);
        expect(bsp.vcpu.view.getUint8(0)).toBe(0); // kvm_run.request_interrupt_window
      }),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('with IF = 0 injects nothing and asks KVM for an interrupt window', () => {
    const bsp = vcpuWithLoop(0);
    states.setEnableBits(0, ENABLE_GLOBAL | ENABLE_SOFTWARE);
    states.request(0, 0x50, false);
    bsp.vcpu.readiness(true, false);
    bsp.vcpu.script = [
      bsp.finish(() => {
        expect(bsp.vcpu.injected).toEqual([]);
        expect(bsp.vcpu.view.getUint8(0)).toBe(1);
      }),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });
});
