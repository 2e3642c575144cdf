/**
 * The vcpu-core test kernel (guests/vcpu-core) under `tsvisor run`, on real KVM, with two
 * vCPUs and the Local APIC at a non-default base: INIT and SIPI latched in the target's APIC
 * (INIT then SIPI with no delay, 100 restarts of the AP, a SIPI to a running AP ignored), a TSC
 * deadline of 2^64 - 1, and the HPET interrupting the AP while vCPU 0 waits for a SIPI.
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const VCPU_CORE_OUTPUT = `the Local APIC is where IA32_APIC_BASE says, the configured base: ok
INIT followed at once by SIPI starts the AP: ok
the AP restarts 100 times with INIT and SIPI: ok
a SIPI to a running AP is ignored: it keeps running: ok
TSC deadline: 2^64 - 1 never fires, 0 disarms, a near one fires once: ok
the HPET interrupts the AP while vCPU 0 waits for a SIPI: ok
6 passed, 0 failed
`;

describeKvm('the vcpu-core test kernel', () => {
  it('starts, restarts and parks vCPUs as the SDM has it, and keeps the HPET firing while vCPU 0 is parked', async () => {
    const result = await tsvisor(['run', 'configs/vcpu-core-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.stdout, outcomeOf(result)).toBe(VCPU_CORE_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
