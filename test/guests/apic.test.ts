/**
 * The apic test kernel (guests/apic) under `tsvisor run`, on real KVM: vCPU 0's local APIC in
 * xAPIC mode as the Intel SDM describes it. CPUID and IA32_APIC_BASE (x2APIC enable raises
 * #GP), the register reset state and read-only bits, software enable, self-IPIs, TPR and CR8
 * masking and priority order, the timer (one-shot, periodic, TSC-deadline, divide
 * configuration, hlt wake-up), software and global disable, LDR/DFR and ESR. The kernel prints
 * no measured figure on its check lines (only in the diagnostics of a FAIL), so its output is
 * exact.
 */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const APIC_OUTPUT = `CPUID.1:EDX[9] APIC is set: ok
CPUID.1:ECX[21] x2APIC is clear: ok
CPUID.1:ECX[24] TSC-deadline is set: ok
CPUID.1:EBX[31:24] initial APIC ID is 0: ok
CPUID 0x15/0x16 give the TSC frequency: ok
IA32_APIC_BASE is 0xfee00900 (base, BSP, global enable): ok
setting IA32_APIC_BASE[10] (x2APIC) raises #GP and changes nothing: ok
version register is 0x00050014: ok
APIC ID register is 0 on vCPU 0: ok
TPR and PPR reset to 0: ok
SVR resets to 0xff (software-disabled): ok
every LVT resets to 0x00010000 (masked): ok
DFR resets to 0xffffffff, LDR to 0: ok
ISR, TMR and IRR reset to all zeros: ok
ESR resets to 0: ok
timer initial count, current count and divide reset to 0: ok
ICR resets to 0: ok
read-only registers ignore writes (version, PPR, ISR, TMR, IRR, current count): ok
SVR bit 8 software-enables the APIC with spurious vector 0xff: ok
LVT delivery status and remote IRR bits are read-only: ok
self-IPI (shorthand self) waits in IRR while IF = 0: ok
self-IPI is taken once with IF = 1; ISR set in the handler, clear after EOI: ok
fixed IPI to its own APIC ID (physical destination) is taken once: ok
TPR 0x50 holds a class-5 self-IPI in IRR; PPR follows TPR: ok
lowering TPR to 0x40 delivers it: ok
CR8 = 6 holds a class-6 self-IPI; TPR reads 0x60: ok
lowering CR8 to 0 delivers it: ok
CR8 reads TPR[7:4] after a TPR write: ok
of two pending interrupts the higher class is taken first: ok
one-shot timer counts down, fires once, then reads 0: ok
one-shot timer of 10 ms fires after 10 ms (and within 500 ms): ok
periodic timer of 1 ms ticks 20 times, no tick before its time: ok
periodic timer stops when the initial count is written 0: ok
in TSC-deadline mode the initial count ignores writes; current count reads 0: ok
TSC-deadline timer fires once, not before its deadline: ok
TSC-deadline timer of 5 ms fires within 500 ms of its deadline: ok
IA32_TSC_DEADLINE reads 0 after it fired: ok
writing 0 to IA32_TSC_DEADLINE disarms it: ok
the current count runs at 1 GHz / divide (1, 16, 128): ok
hlt wakes on a one-shot timer interrupt (divide 16, 5 ms): ok
SVR bit 8 clear: LVTs read masked and cannot be unmasked: ok
SVR bit 8 set again: LVTs stay masked until written; a self-IPI is taken: ok
IA32_APIC_BASE[11] clear: the APIC page reads all ones: ok
CPUID.1:EDX[9] APIC reads 0 while globally disabled: ok
IA32_APIC_BASE[11] set again: the APIC is in its reset state: ok
after the global re-enable a self-IPI is taken: ok
LDR: bits 31:24 writable, the rest reads 0: ok
DFR: bits 31:28 writable, the rest reads 1s: ok
ESR stays 0; no error or spurious interrupt arrived: ok
49 passed, 0 failed
`;

describeKvm('the apic test kernel', () => {
  it('finds the local APIC, its timer and its interrupts as the SDM describes them', async () => {
    const result = await tsvisor(['run', 'configs/apic-x86_64.toml'], { timeoutMs: 25_000 });
    expect(result.stdout, outcomeOf(result)).toBe(APIC_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  }, 40_000);
});
