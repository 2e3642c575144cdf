/** VmControl without KVM: whether any vCPU can still run, and the platform timer thread's wake word. */
import { describe, expect, it } from 'vitest';
import { VmControl, VmState } from '../../src/vmm/vm-control.js';

describe('VmControl: can any vCPU still run?', () => {
  it('starts with the bootstrap processor able to run and the others waiting for a SIPI', () => {
    const control = VmControl.create(3);
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(1); // already waiting: no change
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('sees nothing able to run once the last two vCPUs halt with interrupts disabled, in either order', () => {
    const control = VmControl.create(2);
    control.becomeLive(1); // a SIPI started the AP
    control.becomeStuck(1);
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('counts a stuck vCPU an event was raised for as able to run until it has looked at it (a SIPI, then the sender halts)', () => {
    const control = VmControl.create(2);
    control.becomeLive(1);
    control.becomeStuck(0); // vCPU 0 waits for a SIPI
    control.holdAlive(); // vCPU 1 sends it one...
    control.revive(0);
    control.releaseAlive();
    control.becomeStuck(1); // ...and halts with IF = 0 before vCPU 0 has looked
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeLive(0); // vCPU 0 starts: counted once, not twice
    control.becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('takes the count back from a revived vCPU whose event leaves it stuck (an INIT to a processor waiting for a SIPI)', () => {
    const control = VmControl.create(2);
    control.becomeStuck(0);
    control.revive(1); // vCPU 1 waits for a SIPI; an INIT is raised for it
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(1); // it looked: still waiting
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('never reads zero while a sender that is not a vCPU is between raising an event and reviving its target', () => {
    const control = VmControl.create(1);
    control.becomeStuck(0);
    control.holdAlive(); // the platform timer thread sends an NMI through the IO APIC
    expect(control.noVcpuCanRun()).toBe(false);
    control.revive(0);
    control.releaseAlive();
    expect(control.noVcpuCanRun()).toBe(false);
  });

  it('keeps a vCPU an event was raised for while it ran counted when it becomes stuck, until it has looked at it', () => {
    // vCPU 0 took an INIT; the SIPI behind it was raised while it reset, before it parked.
    const control = VmControl.create(2);
    control.becomeLive(1);
    control.holdAlive();
    control.revive(0); // running: not counted twice...
    control.releaseAlive();
    expect(control.becomeStuck(1)).toBe(true); // the sender halts with IF = 0
    expect(control.noVcpuCanRun()).toBe(false);
    expect(control.becomeStuck(0)).toBe(false); // ...and parking does not drop it: it must look first
    expect(control.noVcpuCanRun()).toBe(false);
    expect(control.becomeStuck(0)).toBe(true); // it looked, and found nothing that starts it
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('forgets a raised event once the vCPU has been stuck and looked', () => {
    const control = VmControl.create(1);
    control.revive(0);
    expect(control.becomeStuck(0)).toBe(false);
    expect(control.becomeStuck(0)).toBe(true);
    control.becomeLive(0);
    expect(control.becomeStuck(0)).toBe(true);
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('counts a vCPU once, however often it becomes stuck or live', () => {
    const control = VmControl.create(2);
    control.becomeLive(0);
    control.becomeLive(1);
    control.becomeLive(1);
    control.becomeStuck(1);
    control.becomeStuck(1);
    expect(control.noVcpuCanRun()).toBe(false);
    control.becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true);
  });

  it('is shared: a view over the same buffer sees the same count', () => {
    const control = VmControl.create(2);
    new VmControl(2, control.buffer).becomeStuck(0);
    expect(control.noVcpuCanRun()).toBe(true);
  });
});

describe("VmControl: the platform timer thread's wake word", () => {
  it("is bumped by a deadline change and by every change of the VM's state", () => {
    const control = VmControl.create(1);
    const seen = control.platformWakeSequence();
    control.wakePlatformTimers();
    expect(control.platformWakeSequence()).toBe(seen + 1);
    control.setVmState(VmState.running);
    expect(control.platformWakeSequence()).toBe(seen + 2);
  });
});
