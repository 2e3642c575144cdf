/**
 * What INIT and a start-up IPI do to a vCPU's registers (SDM vol. 3A, 9.1.1 and Table 9-1;
 * 8.4.3 for the SIPI): after INIT the processor is in real mode, and runs from the reset vector
 * (CS 0xf000, base 0xffff0000, IP 0xfff0) if it is the bootstrap processor; a start-up IPI then
 * starts a waiting one at CS = vector << 8, IP 0.
 */
import { realModeRegs, startupSregs } from '../../boot/real-mode.js';
import type { VcpuPort } from './exit-handler.js';

const RESET_VECTOR_SELECTOR = 0xf000;
const RESET_VECTOR_BASE = 0xffff_0000n;
const RESET_VECTOR_IP = 0xfff0;

/** INIT's registers, running from the reset vector (what a bootstrap processor executes next). */
export function enterResetVector(vcpu: VcpuPort): void {
  const sregs = startupSregs(vcpu.getSregs(), 0);
  vcpu.setSregs({ ...sregs, cs: { ...sregs.cs, selector: RESET_VECTOR_SELECTOR, base: RESET_VECTOR_BASE } });
  vcpu.setRegs(realModeRegs(RESET_VECTOR_IP));
}

/** A start-up IPI's registers: real mode at vector << 12. */
export function enterStartup(vcpu: VcpuPort, vector: number): void {
  vcpu.setSregs(startupSregs(vcpu.getSregs(), vector));
  vcpu.setRegs(realModeRegs(0));
}
