/**
 * A machine reset as each vCPU's thread takes it (Vm.reset asks; lifecycle.ts and
 * vcpu-loop.ts do it), without KVM: a synthetic vCPU plays scripted exits on this thread, and
 * the test plays the main thread's part (pause, request, resume once every vCPU is done).
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { Bus } from '../../../src/devices/bus.js';
import { ENABLE_GLOBAL, ENABLE_SOFTWARE, LocalApicStates } from '../../../src/devices/local-apic-state.js';
import { APIC_SVR, IA32_APIC_BASE, LocalApic } from '../../../src/devices/local-apic.js';
import { monotonicNanos } from '../../../src/host/clock.js';
import * as kvm from '../../../src/kvm/index.js';
import { ExitHandler } from '../../../src/vmm/vcpu/exit-handler.js';
import { VcpuLifecycle } from '../../../src/vmm/vcpu/lifecycle.js';
import { VcpuLoop, type GuestAction, type GuestRequest, type RunControl } from '../../../src/vmm/vcpu/vcpu-loop.js';
import { VcpuState, VmControl, VmState } from '../../../src/vmm/vm-control.js';
import { bareExit, hltExit, ioExit, SyntheticVcpu, type ExitStep } from '../../helpers/synthetic-vcpu.js';

const noShim = { setImmediateExitByte: () => {}, armDeadlineTimer: () => {}, releaseThread: () => {} };

let states: LocalApicStates;
let control: VmControl;

beforeEach(() => {
  states = new LocalApicStates(2);
  control = VmControl.create(2);
  control.setVmState(VmState.running);
});

/** The main thread's reset, as the vCPU sees it: the VM paused, the vCPU asked to reset; once it is done, the VM runs again. */
function mainThreadResets(id: number, afterward: () => void = () => {}): void {
  const done = control.resetDone.bind(control);
  control.resetDone = (vcpu) => {
    done(vcpu);
    afterward();
    control.setVmState(VmState.running);
  };
  control.setVmState(VmState.paused);
  control.requestReset(id);
}

function vcpuWithLoop(id: number, policy: { onGuestReset?: GuestAction; onGuestPowerOff?: GuestAction; onGuestCrash?: GuestAction } = {}) {
  const vcpu = new SyntheticVcpu(id);
  const apic = new LocalApic({
    id, states, ipis: { sendIpi: () => {} }, taskPriority: vcpu.kvmRun, now: monotonicNanos,
    onLevelEoi: () => {}, onAcceptingInterrupts: () => {}, relocate: () => true, report: () => {},
  });
  const local: RunControl = { exit: undefined };
  const counts = new Float64Array(64);
  const exits = new ExitHandler({
    vcpu, ioBus: new Bus('I/O port'), mmioBus: new Bus('MMIO'), memory: { contains: () => false, read: () => new Uint8Array(0) },
    localApic: apic, tscKhz: 1_000_000, shutdownResetsVcpu: false, exitCounts: counts,
  });
  const requests: GuestRequest[] = [];
  const loop = new VcpuLoop({
    vcpu, immediateExitAddress: 0n, control, exits, localApic: apic, local, shim: noShim, exitCounts: counts, exitNanos: new Float64Array(64), timed: false,
    onGuestReset: policy.onGuestReset ?? 'exit', onGuestPowerOff: policy.onGuestPowerOff ?? 'exit', onGuestCrash: policy.onGuestCrash ?? 'exit',
    tellMain: (request) => {
      requests.push(request);
      mainThreadResets(id);
    },
  });
  const finish =
    (check: () => void = () => {}): ExitStep =>
    (v) => {
      check();
      local.exit = { kind: 'debug-exit', value: 0 };
      return ioExit(0xf4, 'out', 1, [0])(v);
    };
  return { vcpu, apic, loop, local, finish, requests };
}

const enable = (apic: LocalApic) => apic.write(APIC_SVR, new Uint8Array(new Uint32Array([0x1ff]).buffer));

describe('VcpuLifecycle.obey and a machine reset', () => {
  it('a paused vCPU asked to reset powers on, says it is done, and runs again in the state it powered on in', () => {
    const powerOns: number[] = [];
    const lifecycle = new VcpuLifecycle(control, 1, () => {}, () => (powerOns.push(1), VcpuState.parked));
    mainThreadResets(1);
    expect(lifecycle.obey(VcpuState.running)).toBe('reset');
    expect(powerOns).toEqual([1]);
    expect(control.resetRequested(1)).toBe(false);
    expect(control.vcpuState(1)).toBe(VcpuState.parked);
  });

  it('a pause with no reset resumes as it was; a stop leaves, even while waiting for a reset', () => {
    const lifecycle = new VcpuLifecycle(control, 0, () => {}, () => VcpuState.running);
    expect(lifecycle.obey(VcpuState.halted)).toBe('resumed');
    expect(control.vcpuState(0)).toBe(VcpuState.halted);
    control.setVmState(VmState.stopping);
    expect(lifecycle.obey(VcpuState.running, true)).toBe('stop');
  });

  it('the live count and stuck words go back to power-on: vCPU 0 live, the others waiting for a SIPI', () => {
    control.becomeStuck(0);
    control.becomeLive(1);
    control.powerOnLiveness();
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true); // vCPU 1 was not counted live: it waits for a SIPI
  });
});

describe('the vCPU loop and a machine reset', () => {
  it('a triple fault, with onGuestReset "reset": the main thread is told, and the vCPU runs on from power-on (its Local APIC reset)', () => {
    const bsp = vcpuWithLoop(0, { onGuestReset: 'reset' });
    enable(bsp.apic);
    bsp.vcpu.script = [
      bareExit(kvm.KVM_EXIT_SHUTDOWN),
      bsp.finish(() => {
        expect(bsp.requests).toEqual([{ cause: 'reset', action: 'reset' }]);
        expect(states.enableBits(0)).toBe(ENABLE_GLOBAL); // SVR back to its reset value: software-disabled
        expect(bsp.vcpu.msrWrites).toContainEqual({ index: IA32_APIC_BASE, data: bsp.apic.readApicBase() });
        expect(control.vcpuState(0)).toBe(VcpuState.running);
      }),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('a triple fault, with onGuestReset "exit" (tsvisor run, -no-reboot): the VM ends with it', () => {
    const bsp = vcpuWithLoop(0);
    bsp.vcpu.script = [bareExit(kvm.KVM_EXIT_SHUTDOWN)];
    expect(bsp.loop.run()).toMatchObject({ kind: 'guest-failure', tripleFault: true });
    expect(bsp.requests).toEqual([]);
  });

  it('a power-off, with onGuestPowerOff "pause" (-no-shutdown): the main thread is told, and the vCPU waits for the reset', () => {
    const bsp = vcpuWithLoop(0, { onGuestPowerOff: 'pause' });
    bsp.vcpu.script = [
      (v) => {
        bsp.local.exit = { kind: 'power-off' };
        return ioExit(0x604, 'out', 2, [0x00, 0x20])(v);
      },
      bsp.finish(() => expect(bsp.requests).toEqual([{ cause: 'power-off', action: 'pause' }])),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it.each([
    ['a triple fault, onGuestReset "pause" (libvirt on_reboot preserve)', { onGuestReset: 'pause' }, bareExit(kvm.KVM_EXIT_SHUTDOWN), { cause: 'reset', action: 'pause' }],
    ['a power-off, onGuestPowerOff "reset" (libvirt on_poweroff restart)', { onGuestPowerOff: 'reset' }, 'power-off', { cause: 'power-off', action: 'reset' }],
    ['an emulation failure, onGuestCrash "reset" (libvirt on_crash restart)', { onGuestCrash: 'reset' }, bareExit(kvm.KVM_EXIT_INTERNAL_ERROR), { cause: 'crash', action: 'reset' }],
    ['an emulation failure, onGuestCrash "pause" (libvirt on_crash preserve)', { onGuestCrash: 'pause' }, bareExit(kvm.KVM_EXIT_INTERNAL_ERROR), { cause: 'crash', action: 'pause' }],
  ] as const)('%s: the main thread is told, and the vCPU waits for the reset', (_name, policy, first, request) => {
    const bsp = vcpuWithLoop(0, policy);
    bsp.vcpu.script = [
      first === 'power-off'
        ? (v) => {
            bsp.local.exit = { kind: 'power-off' };
            return ioExit(0x604, 'out', 2, [0x00, 0x20])(v);
          }
        : first,
      bsp.finish(() => expect(bsp.requests).toEqual([request])),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('an emulation failure, with onGuestCrash "exit" (the default): the VM ends with it', () => {
    const bsp = vcpuWithLoop(0);
    bsp.vcpu.script = [bareExit(kvm.KVM_EXIT_INTERNAL_ERROR)];
    expect(bsp.loop.run()).toMatchObject({ kind: 'guest-failure' });
    expect(bsp.requests).toEqual([]);
  });

  it('a halted vCPU leaves its halt with the reset, and runs', () => {
    const bsp = vcpuWithLoop(0);
    bsp.vcpu.script = [
      (v) => {
        mainThreadResets(0);
        return hltExit(true)(v);
      },
      bsp.finish(() => expect(control.vcpuState(0)).toBe(VcpuState.running)),
    ];
    expect(bsp.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });

  it('a running application processor waits for a start-up IPI again after the reset', () => {
    const ap = vcpuWithLoop(1);
    states.latchStartup(1, 0x08);
    let parkedAfterReset = false;
    ap.vcpu.script = [
      (v) => {
        enable(ap.apic);
        mainThreadResets(1, () => {
          parkedAfterReset = !ap.apic.hasAttention; // nothing raised before the reset survived it
          states.latchStartup(1, 0x09); // the BSP, booted again, starts it again
        });
        return ioExit(0x80, 'out', 1, [0])(v);
      },
      ap.finish(() => {
        expect(parkedAfterReset).toBe(true);
        expect(ap.vcpu.sregs.cs.base).toBe(0x9000n);
        expect(states.enableBits(1) & ENABLE_SOFTWARE).toBe(0);
      }),
    ];
    expect(ap.loop.run()).toEqual({ kind: 'debug-exit', value: 0 });
  });
});
