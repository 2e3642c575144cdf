/**
 * The vCPUs as a machine powers on: every one in the architectural power-on state
 * (reset-vcpu.ts), vCPU 0 then in its boot state on top (cpu-state.ts), the others left to
 * wait for a start-up IPI. Vm.create does this once, and Vm.reset again for each machine reset,
 * so that vCPU 0 starts at the boot entry exactly as at first boot.
 */
import type { KvmRegs, KvmSregs } from '../kvm/index.js';
import type { BootSpec } from './boot-plan.js';
import { initialCpuState } from './cpu-state.js';
import { resetVcpu, type ResettableVcpu } from './reset-vcpu.js';

export function powerOnVcpus(vcpus: readonly ResettableVcpu[], boot: BootSpec): void {
  for (const vcpu of vcpus) resetVcpu(vcpu, 'power-on');
  const bsp = vcpus[0];
  if (!bsp) return;
  const state = initialCpuState(boot, { regs: bsp.getRegs() as KvmRegs, sregs: bsp.getSregs() as KvmSregs });
  bsp.setSregs(state.sregs);
  bsp.setRegs(state.regs);
}
