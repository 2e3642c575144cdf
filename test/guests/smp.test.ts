/**
 * The smp test kernel (guests/smp) under `tsvisor run`, on real KVM, with 2 and 4 vCPUs: the
 * BSP starts each AP with INIT, SIPI, SIPI through a real-mode trampoline, one at a time (so
 * "cpu <n> online" comes out in order), then sends IPIs between the CPUs: fixed (physical),
 * logical flat and cluster, broadcasts, lowest priority, and a SIPI to a running AP; then it
 * sends INIT to a running AP, which resets it (tsvisor's architectural reset), and starts it
 * again with INIT-SIPI-SIPI.
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const CHECKS = `every AP started with INIT, SIPI, SIPI and checked in: ok
each AP started in real mode at CS:IP = 0x0700:0000 (SIPI vector 0x07), EDX = CPUID.01H:EAX: ok
the second SIPI of INIT-SIPI-SIPI started no AP twice: ok
each AP's APIC ID register holds its CPUID initial APIC ID: ok
IA32_APIC_BASE: BSP flag on the BSP only; each AP starts software-disabled: ok
a fixed IPI from the BSP reaches each AP once (physical destination): ok
a fixed IPI from each AP reaches the BSP once: ok
a logical flat-model IPI reaches exactly the CPUs in its mask: ok
an all-excluding-self broadcast reaches every AP, not the BSP: ok
an all-including-self broadcast reaches every CPU: ok
a lowest-priority IPI to every CPU is taken by exactly one: ok
logical cluster-model IPIs reach exactly the CPUs their cluster and members name: ok
a SIPI to a running AP is ignored: ok
INIT resets a running AP: INIT-SIPI-SIPI starts it again at 0x0700:0000, EDX = CPUID.01H:EAX, APIC reset: ok
no APIC error or spurious interrupt: ok
every AP parked: ok
16 passed, 0 failed
`;

function smpOutput(cpus: number): string {
  const online = Array.from({ length: cpus }, (_, id) => `cpu ${id} online\n`).join('');
  return `fw_cfg: ${cpus} CPUs\n${online}${CHECKS}`;
}

describeKvm('the smp test kernel', () => {
  it.each([
    ['configs/smp-x86_64.toml', 2],
    ['configs/smp4-x86_64.toml', 4],
  ])('%s: starts every AP with INIT-SIPI-SIPI and passes IPIs between %i CPUs', async (config, cpus) => {
    const result = await tsvisor(['run', config], { timeoutMs: 25_000 });
    expect(result.stdout, outcomeOf(result)).toBe(smpOutput(cpus));
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
