/**
 * The pit test kernel (guests/pit) under `tsvisor run`, on real KVM: the 8254 PIT as kernels
 * use it at boot (the TSC calibrated against channel 2 through port 0x61, a counter latch, a
 * read-back, a square wave, channel 0's interrupts on IO APIC pin 2) and the 8259A pair's
 * initialisation and masks, with the devices given as AxVisor's x86 configs give them.
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { tsvisor } from '../helpers/tsvisor.js';

const PIT_OUTPUT = `the 8259A pair takes ICW1-4 and keeps its masks: ok
OCW3 reads the in-service registers: nothing in service: ok
the TSC calibrated against channel 2 agrees with CPUID 0x15/0x16 (+-5 %): ok
a counter latch holds the count until it is read: ok
a read-back gives channel 2's status and count: ok
channel 2 in mode 3 is a square wave on port 0x61 bit 5: ok
channel 0 in mode 2 at 1 kHz interrupts through IO APIC pin 2: ok
7 passed, 0 failed
`;

describeKvm('the pit test kernel', () => {
  it('calibrates the TSC against the PIT, reads its counters back, takes its interrupts, and programs the PIC', async () => {
    const result = await tsvisor(['run', 'configs/pit-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.stdout, `tsvisor exited with ${result.status}; its stderr:\n${result.stderr}`).toBe(PIT_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
