/**
 * A vCPU's state as text, for a guest that crashed: general registers, segments,
 * descriptor tables, control registers, the CPU mode, and the bytes at RIP.
 */
import { EXIT_REASON_NAMES, KVM_EXIT_IO, KVM_EXIT_MMIO, type KvmRegs, type KvmSegment, type KvmSregs } from '../kvm/index.js';

const CR0_PE = 1n << 0n;
const CR0_PG = 1n << 31n;
const EFER_LMA = 1n << 10n;
const RFLAGS_IF = 1n << 9n;

/** RFLAGS bits worth naming (Intel SDM vol. 1, 3.4.3). */
const RFLAGS_NAMES: readonly [bigint, string][] = [
  [1n << 0n, 'CF'], [1n << 2n, 'PF'], [1n << 4n, 'AF'], [1n << 6n, 'ZF'], [1n << 7n, 'SF'], [1n << 8n, 'TF'],
  [RFLAGS_IF, 'IF'], [1n << 10n, 'DF'], [1n << 11n, 'OF'],
];

export interface CodeBytes {
  /** The guest physical address of RIP, when it could be worked out. */
  readonly gpa: number | undefined;
  /** The bytes at RIP, or why there are none. */
  readonly bytes: Uint8Array | string;
}

/** The last exit a vCPU handled: its reason and, for I/O and MMIO, the port or address and direction. */
export interface LastExit {
  reason: number;
  address: number;
  write: boolean;
}

const h64 = (value: bigint) => value.toString(16).padStart(16, '0');

export function cpuMode(sregs: KvmSregs): string {
  if ((sregs.cr0 & CR0_PE) === 0n) return 'real mode';
  if ((sregs.efer & EFER_LMA) !== 0n) return sregs.cs.l ? '64-bit long mode' : 'compatibility mode';
  const paging = (sregs.cr0 & CR0_PG) !== 0n ? ', paging on' : '';
  return `${sregs.cs.db ? '32' : '16'}-bit protected mode${paging}`;
}

/** The linear address of the next instruction: CS.base + RIP (CS.base is ignored in 64-bit mode). */
export function instructionPointer(regs: KvmRegs, sregs: KvmSregs): bigint {
  if ((sregs.efer & EFER_LMA) !== 0n && sregs.cs.l) return regs.rip;
  return (sregs.cs.base + regs.rip) & 0xffff_ffffn;
}

export function pagingEnabled(sregs: KvmSregs): boolean {
  return (sregs.cr0 & CR0_PG) !== 0n;
}

function segment(name: string, value: KvmSegment): string {
  return (
    `${name.padEnd(3)}=${value.selector.toString(16).padStart(4, '0')} base=${h64(value.base)} ` +
    `limit=${value.limit.toString(16).padStart(8, '0')} type=${value.type.toString(16)} dpl=${value.dpl} ` +
    `present=${value.present} s=${value.s} db=${value.db} l=${value.l} g=${value.g}`
  );
}

export function formatRegisterDump(vcpuId: number, regs: KvmRegs, sregs: KvmSregs, code: CodeBytes): string {
  const flags = RFLAGS_NAMES.filter(([bit]) => (regs.rflags & bit) !== 0n).map(([, name]) => name);
  const codeLine =
    typeof code.bytes === 'string'
      ? code.bytes
      : Array.from(code.bytes, (byte) => byte.toString(16).padStart(2, '0')).join(' ');
  const codeWhere = code.gpa === undefined ? '' : ` (guest physical 0x${code.gpa.toString(16)})`;
  return [
    `vCPU ${vcpuId} in ${cpuMode(sregs)}:`,
    `  RAX=${h64(regs.rax)} RBX=${h64(regs.rbx)} RCX=${h64(regs.rcx)} RDX=${h64(regs.rdx)}`,
    `  RSI=${h64(regs.rsi)} RDI=${h64(regs.rdi)} RBP=${h64(regs.rbp)} RSP=${h64(regs.rsp)}`,
    `  R8 =${h64(regs.r8)} R9 =${h64(regs.r9)} R10=${h64(regs.r10)} R11=${h64(regs.r11)}`,
    `  R12=${h64(regs.r12)} R13=${h64(regs.r13)} R14=${h64(regs.r14)} R15=${h64(regs.r15)}`,
    `  RIP=${h64(regs.rip)} RFLAGS=${h64(regs.rflags)} [${flags.join(' ')}]`,
    ...(['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const).map((name) => `  ${segment(name.toUpperCase(), sregs[name])}`),
    `  GDT=${h64(sregs.gdt.base)} limit=${sregs.gdt.limit.toString(16).padStart(4, '0')}  IDT=${h64(sregs.idt.base)} limit=${sregs.idt.limit.toString(16).padStart(4, '0')}`,
    `  CR0=${h64(sregs.cr0)} CR2=${h64(sregs.cr2)} CR3=${h64(sregs.cr3)} CR4=${h64(sregs.cr4)}`,
    `  CR8=${h64(sregs.cr8)} EFER=${h64(sregs.efer)} APIC_BASE=${h64(sregs.apic_base)}`,
    `  code at RIP${codeWhere}: ${codeLine}`,
  ].join('\n');
}

/** An exit as the user reads it: its reason and, for I/O and MMIO, the access. */
function describeExit(last: LastExit): string {
  const access = (space: string) => `a ${last.write ? 'write to' : 'read of'} ${space} 0x${last.address.toString(16)}`;
  if (last.reason === KVM_EXIT_IO) return `KVM_EXIT_IO, ${access('I/O port')}`;
  if (last.reason === KVM_EXIT_MMIO) return `KVM_EXIT_MMIO, ${access('guest physical address')}`;
  return EXIT_REASON_NAMES[last.reason] ?? `exit reason ${last.reason}`;
}

/**
 * What stands in for the register dump when KVM has replaced the guest's registers (on its
 * AMD side, after a shutdown exit): that they are lost, and the last exit tsvisor handled.
 */
export function lostRegistersReport(vcpuId: number, last: LastExit, exitsBefore: number): string {
  const lastExit = last.reason < 0 ? 'none: the fault came before the first exit' : describeExit(last);
  return [
    `vCPU ${vcpuId}: the registers at the fault are lost. On this host KVM runs on AMD SVM, which re-initialises a vCPU when it shuts down, so KVM reports the INIT state, not the guest's.`,
    `  the last exit tsvisor handled before the fault: ${lastExit}`,
    `  exits handled before the fault: ${exitsBefore}`,
  ].join('\n');
}

/**
 * One line on where a vCPU was when the VM was stopped from outside (a signal, a time limit):
 * what a user who stops a guest that seems stuck needs first. `state` is what it was doing
 * (running, halted, waiting for a SIPI); `lastAccess` its last I/O or MMIO exit, if any.
 */
export function formatStopPoint(vcpuId: number, state: string, regs: KvmRegs | undefined, sregs: KvmSregs | undefined, lastAccess: LastExit, exits: number): string {
  const where =
    regs && sregs
      ? ` in ${cpuMode(sregs)} at 0x${instructionPointer(regs, sregs).toString(16)}, interrupts ${(regs.rflags & RFLAGS_IF) !== 0n ? 'enabled' : 'disabled'}`
      : ' (its registers could not be read)';
  const access = lastAccess.reason < 0 ? 'no I/O or MMIO exit yet' : `the last I/O or MMIO exit ${describeExit(lastAccess)}`;
  return `vCPU ${vcpuId} was ${state}${where}; ${exits} exits, ${access}`;
}
