/** VmControl's start-up protocol: what INIT and SIPI do to a vCPU, without KVM. */
import { describe, expect, it } from 'vitest';
import { VmControl } from '../../src/vmm/vm-control.js';

describe('VmControl start-up IPIs (SDM vol. 3A, 8.4.4.1)', () => {
  it('starts a vCPU waiting for a SIPI once: the second SIPI of INIT-SIPI-SIPI is ignored', () => {
    const control = new VmControl(2);
    const woken = control.wakeSequence(1);
    expect(control.startup(1, 0x07)).toBe(true);
    expect(control.wakeSequence(1)).toBe(woken + 1);
    expect(control.startup(1, 0x09)).toBe(false);
    expect(control.takeStartRequest(1)).toBe(0x07);
    expect(control.takeStartRequest(1)).toBeUndefined();
  });

  it('ignores a SIPI to the bootstrap processor once it has started, and waits again after INIT', () => {
    const control = new VmControl(2);
    control.markStarted(0);
    expect(control.startup(0, 0x10)).toBe(false);
    control.awaitStartup(0);
    expect(control.startup(0, 0x10)).toBe(true);
    expect(control.takeStartRequest(0)).toBe(0x10);
  });

  it('forgets a start request that INIT overtakes', () => {
    const control = new VmControl(2);
    expect(control.startup(1, 0x07)).toBe(true);
    control.awaitStartup(1);
    expect(control.takeStartRequest(1)).toBeUndefined();
  });

  it('is shared: a start request made on one view is taken on another over the same buffer', () => {
    const control = new VmControl(2);
    const other = new VmControl(2, control.buffer);
    expect(control.startup(1, 0x08)).toBe(true);
    expect(other.takeStartRequest(1)).toBe(0x08);
  });
});
