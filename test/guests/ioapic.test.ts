/**
 * The ioapic test kernel (guests/ioapic) under `tsvisor run`, on real KVM: the IO APIC's
 * registers, then COM1's interrupts through pin 4 (THR-empty as edge and level, a masked
 * edge, a level asserted while the Local APIC is software-disabled and delivered once it is
 * enabled, received data for the line this test sends once the kernel asks for it).
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const PROMPT = 'waiting for a line on COM1\n';

const IOAPIC_OUTPUT = `every redirection entry masked at reset: ok
IO APIC version register: ok
IO APIC ID register: ok
IO APIC arbitration register: ok
redirection entries read back, read-only bits unchanged: ok
edge: THR-empty interrupt delivered once: ok
edge: masked edge not delivered: ok
edge: latched edge delivered once on unmask: ok
level: Remote IRR set in the handler: ok
level: one interrupt, Remote IRR clear after EOI: ok
level: still-asserted line delivered again after each EOI: ok
level armed before APIC enable: nothing accepted, Remote IRR clear: ok
level armed before APIC enable: delivered once it is enabled: ok
${PROMPT}received: ping
received-data interrupts: ok
14 passed, 0 failed
`;

describeKvm('the ioapic test kernel', () => {
  it('checks the IO APIC registers and takes COM1 interrupts through pin 4, including host input', async () => {
    const result = await tsvisor(['run', 'configs/ioapic-x86_64.toml'], { input: 'ping\n', inputAfter: PROMPT, timeoutMs: 25_000 });
    expect(result.stdout, outcomeOf(result)).toBe(IOAPIC_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
