/**
 * A vCPU's registers as QEMU 7.2's `info registers` prints them for x86 (measured against it:
 * a real-mode CPU at reset and a 64-bit guest; test/monitor/cpu-dump.test.ts). Two layouts:
 * 64-bit names and widths while long mode is active (EFER.LMA), 32-bit ones otherwise. A
 * segment's fourth column is its descriptor's high word as the CPU holds it (type, S, DPL, P,
 * limit 19:16, AVL, L, D/B, G; Intel SDM vol. 3, 3.4.5); in protected mode a present segment
 * is decoded after it.
 */
import type { KvmDebugregs, KvmRegs, KvmSegment, KvmSregs } from '../kvm/index.js';

export interface CpuDumpState {
  readonly regs: KvmRegs;
  readonly sregs: KvmSregs;
  readonly debugregs: KvmDebugregs;
  /** The XSAVE area (its legacy region: the FXSAVE layout, SDM vol. 1, 10.5.1). */
  readonly xsave: Uint8Array;
  /** The interrupt shadow (after STI or MOV SS) is in force. */
  readonly interruptShadow: boolean;
  readonly halted: boolean;
}

const CR0_PE = 1n;
const EFER_LMA = 1n << 10n;
/** RFLAGS bits QEMU shows, in its order: DF OF SF ZF AF PF CF (SDM vol. 1, 3.4.3). */
const SHOWN_FLAGS: readonly [number, string][] = [[10, 'D'], [11, 'O'], [7, 'S'], [6, 'Z'], [4, 'A'], [2, 'P'], [0, 'C']];
/** System segment and gate types by descriptor type (SDM vol. 3, table 3-2), for 32-bit and for IA-32e mode. */
const SYSTEM_TYPES = {
  legacy: ['Reserved', 'TSS16-avl', 'LDT', 'TSS16-busy', 'CallGate16', 'TaskGate', 'IntGate16', 'TrapGate16', 'Reserved', 'TSS32-avl', 'Reserved', 'TSS32-busy', 'CallGate32', 'Reserved', 'IntGate32', 'TrapGate32'],
  long: ['<hiword>', 'Reserved', 'LDT', 'Reserved', 'Reserved', 'Reserved', 'Reserved', 'Reserved', 'Reserved', 'TSS64-avl', 'Reserved', 'TSS64-busy', 'CallGate64', 'Reserved', 'IntGate64', 'TrapGate64'],
} as const;

const hex = (value: bigint | number, digits: number) => BigInt.asUintN(digits * 4, BigInt(value)).toString(16).padStart(digits, '0');

/** The text QEMU's monitor prints for CPU `index`, lines ended "\r\n", starting with an empty line. */
export function formatCpuDump(index: number, state: CpuDumpState): string {
  const { regs, sregs } = state;
  const long = (sregs.efer & EFER_LMA) !== 0n;
  const protectedMode = (sregs.cr0 & CR0_PE) !== 0n;
  const lines = ['', `CPU#${index}`];
  const status = `[${flagText(regs.rflags)}] CPL=${sregs.ss.dpl} II=${state.interruptShadow ? 1 : 0} A20=1 SMM=0 HLT=${state.halted ? 1 : 0}`;
  if (long) {
    lines.push(
      `RAX=${hex(regs.rax, 16)} RBX=${hex(regs.rbx, 16)} RCX=${hex(regs.rcx, 16)} RDX=${hex(regs.rdx, 16)}`,
      `RSI=${hex(regs.rsi, 16)} RDI=${hex(regs.rdi, 16)} RBP=${hex(regs.rbp, 16)} RSP=${hex(regs.rsp, 16)}`,
      `R8 =${hex(regs.r8, 16)} R9 =${hex(regs.r9, 16)} R10=${hex(regs.r10, 16)} R11=${hex(regs.r11, 16)}`,
      `R12=${hex(regs.r12, 16)} R13=${hex(regs.r13, 16)} R14=${hex(regs.r14, 16)} R15=${hex(regs.r15, 16)}`,
      `RIP=${hex(regs.rip, 16)} RFL=${hex(regs.rflags, 8)} ${status}`,
    );
  } else {
    lines.push(
      `EAX=${hex(regs.rax, 8)} EBX=${hex(regs.rbx, 8)} ECX=${hex(regs.rcx, 8)} EDX=${hex(regs.rdx, 8)}`,
      `ESI=${hex(regs.rsi, 8)} EDI=${hex(regs.rdi, 8)} EBP=${hex(regs.rbp, 8)} ESP=${hex(regs.rsp, 8)}`,
      `EIP=${hex(regs.rip, 8)} EFL=${hex(regs.rflags, 8)} ${status}`,
    );
  }
  const baseDigits = long ? 16 : 8;
  const segments: [string, KvmSegment][] = [['ES', sregs.es], ['CS', sregs.cs], ['SS', sregs.ss], ['DS', sregs.ds], ['FS', sregs.fs], ['GS', sregs.gs], ['LDT', sregs.ldt], ['TR', sregs.tr]];
  for (const [name, segment] of segments) lines.push(segmentLine(name, segment, baseDigits, protectedMode, long));
  lines.push(`GDT=     ${hex(sregs.gdt.base, baseDigits)} ${hex(sregs.gdt.limit, 8)}`, `IDT=     ${hex(sregs.idt.base, baseDigits)} ${hex(sregs.idt.limit, 8)}`);
  lines.push(`CR0=${hex(sregs.cr0, 8)} CR2=${hex(sregs.cr2, baseDigits)} CR3=${hex(sregs.cr3, baseDigits)} CR4=${hex(sregs.cr4, 8)}`);
  const { debugregs } = state;
  lines.push(`${debugregs.db.map((value, number) => `DR${number}=${hex(value, 16)} `).join('')}`, `DR6=${hex(debugregs.dr6, 16)} DR7=${hex(debugregs.dr7, 16)}`);
  lines.push(`EFER=${hex(sregs.efer, 16)}`);
  lines.push(...fpuLines(state.xsave, long ? 16 : 8));
  return `${lines.join('\r\n')}\r\n`;
}

function flagText(rflags: bigint): string {
  return SHOWN_FLAGS.map(([bit, letter]) => ((rflags >> BigInt(bit)) & 1n ? letter : '-')).join('');
}

/** The descriptor's high word as QEMU keeps a segment's flags: bits 8-23 of the descriptor's second dword. */
function descriptorFlags(segment: KvmSegment): number {
  const rawLimit = segment.g ? segment.limit >>> 12 : segment.limit;
  return (
    (segment.type << 8) | (segment.s << 12) | (segment.dpl << 13) | (segment.present << 15) |
    (((rawLimit >>> 16) & 0xf) << 16) | (segment.avl << 20) | (segment.l << 21) | (segment.db << 22) | (segment.g << 23)
  ) >>> 0;
}

function segmentLine(name: string, segment: KvmSegment, baseDigits: number, protectedMode: boolean, long: boolean): string {
  const line = `${name.padEnd(3)}=${hex(segment.selector, 4)} ${hex(segment.base, baseDigits)} ${hex(segment.limit, 8)} ${hex(descriptorFlags(segment), 8)}`;
  if (!protectedMode || !segment.present) return line;
  return `${line} DPL=${segment.dpl} ${segmentKind(segment, long)}`;
}

function segmentKind(segment: KvmSegment, long: boolean): string {
  const type = segment.type;
  if (!segment.s) return SYSTEM_TYPES[long ? 'long' : 'legacy'][type & 0xf] as string;
  const accessed = type & 1 ? 'A' : '-';
  if (type & 8) {
    const width = segment.l ? 'CS64' : segment.db ? 'CS32' : 'CS16';
    return `${width} [${type & 4 ? 'C' : '-'}${type & 2 ? 'R' : '-'}${accessed}]`;
  }
  return `${segment.db || long ? 'DS  ' : 'DS16'} [${type & 4 ? 'E' : '-'}${type & 2 ? 'W' : '-'}${accessed}]`;
}

/** The x87 and SSE state from the FXSAVE layout: FCW at 0, FSW at 2, the abridged tag at 4, MXCSR at 24, ST0-7 at 32, XMM0-15 at 160. */
function fpuLines(xsave: Uint8Array, xmmCount: number): string[] {
  const view = new DataView(xsave.buffer, xsave.byteOffset, xsave.byteLength);
  const fsw = view.getUint16(2, true);
  const lines = [`FCW=${hex(view.getUint16(0, true), 4)} FSW=${hex(fsw, 4)} [ST=${(fsw >> 11) & 7}] FTW=${hex(view.getUint8(4), 2)} MXCSR=${hex(view.getUint32(24, true), 8)}`];
  const fpr = (index: number) => `FPR${index}=${hex(view.getBigUint64(32 + 16 * index, true), 16)} ${hex(view.getUint16(40 + 16 * index, true), 4)}`;
  for (let index = 0; index < 8; index += 2) lines.push(`${fpr(index)} ${fpr(index + 1)}`);
  const xmm = (index: number) => `XMM${String(index).padStart(2, '0')}=${hex(view.getBigUint64(168 + 16 * index, true), 16)} ${hex(view.getBigUint64(160 + 16 * index, true), 16)}`;
  for (let index = 0; index < xmmCount; index += 2) lines.push(`${xmm(index)} ${xmm(index + 1)}`);
  return lines;
}
