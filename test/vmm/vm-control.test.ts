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

  it('counts an NMI, INIT or SIPI on its way as able to run, from before it is raised until its target is notified', () => {
    const control = VmControl.create(2);
    control.holdAlive(); // vCPU 0 raises an NMI for the stuck vCPU 1...
    control.becomeStuck(0); // ...and halts with IF = 0 meanwhile
    expect(control.noVcpuCanRun()).toBe(false);
    control.releaseAlive(); // vCPU 1 is notified: it sees the NMI
    expect(control.noVcpuCanRun()).toBe(true);
    control.becomeLive(1); // it runs, and counts again
    expect(control.noVcpuCanRun()).toBe(false);
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
