import { describe, expect, it } from 'vitest';
import type { KvmRegs, KvmSegment, KvmSregs } from '../../src/kvm/index.js';
import { KVM_EXIT_HLT, KVM_EXIT_IO, KVM_EXIT_MMIO } from '../../src/kvm/index.js';
import { cpuMode, formatRegisterDump, formatStopPoint, instructionPointer, lostRegistersReport } from '../../src/vmm/register-dump.js';

const segment = (selector: number, flags: Partial<KvmSegment> = {}): KvmSegment => ({
  base: 0n, limit: 0xffffffff, selector, type: 0xb, present: 1, dpl: 0, db: 0, s: 1, l: 0, g: 1, avl: 0, unusable: 0, padding: 0, ...flags,
});
const regs: KvmRegs = {
  rax: 1n, rbx: 2n, rcx: 3n, rdx: 4n, rsi: 5n, rdi: 6n, rsp: 0x13fe0n, rbp: 8n,
  r8: 9n, r9: 10n, r10: 11n, r11: 12n, r12: 13n, r13: 14n, r14: 15n, r15: 16n,
  rip: 0x8088n, rflags: 0x246n,
};
const longMode: KvmSregs = {
  cs: segment(0x18, { l: 1 }), ds: segment(0x10, { type: 3, db: 1 }), es: segment(0x10, { type: 3, db: 1 }),
  fs: segment(0x10, { type: 3, db: 1 }), gs: segment(0x10, { type: 3, db: 1 }), ss: segment(0x10, { type: 3, db: 1 }),
  tr: segment(0, { s: 0, g: 0, limit: 0xffff }), ldt: segment(0, { type: 2, s: 0, g: 0, limit: 0xffff }),
  gdt: { base: 0x8030n, limit: 0x1f, padding: [0, 0, 0] }, idt: { base: 0n, limit: 0, padding: [0, 0, 0] },
  cr0: 0xe0000011n, cr2: 0n, cr3: 0xa000n, cr4: 0x20n, cr8: 0n, efer: 0x500n, apic_base: 0xfee00900n,
  interrupt_bitmap: [0n, 0n, 0n, 0n],
};

describe('register dump', () => {
  it('names the CPU mode', () => {
    expect(cpuMode(longMode)).toBe('64-bit long mode');
    expect(cpuMode({ ...longMode, cr0: 0x10n, efer: 0n })).toBe('real mode');
    expect(cpuMode({ ...longMode, cr0: 0x11n, efer: 0n, cs: segment(8, { db: 1 }) })).toBe('32-bit protected mode');
    expect(cpuMode({ ...longMode, cr0: 0x80000011n, efer: 0n, cs: segment(8, { db: 1 }) })).toBe('32-bit protected mode, paging on');
  });

  it('computes the instruction pointer with CS.base outside 64-bit mode', () => {
    expect(instructionPointer(regs, longMode)).toBe(0x8088n);
    expect(instructionPointer({ ...regs, rip: 0x10n }, { ...longMode, efer: 0n, cs: segment(0x9000, { base: 0x90000n }) })).toBe(0x90010n);
  });

  it('prints every register, segment, table and control register, and the code at RIP', () => {
    const dump = formatRegisterDump(0, regs, longMode, { gpa: 0x8088, bytes: new Uint8Array([0x0f, 0x0b]) });
    expect(dump.split('\n')).toEqual([
      'vCPU 0 in 64-bit long mode:',
      '  RAX=0000000000000001 RBX=0000000000000002 RCX=0000000000000003 RDX=0000000000000004',
      '  RSI=0000000000000005 RDI=0000000000000006 RBP=0000000000000008 RSP=0000000000013fe0',
      '  R8 =0000000000000009 R9 =000000000000000a R10=000000000000000b R11=000000000000000c',
      '  R12=000000000000000d R13=000000000000000e R14=000000000000000f R15=0000000000000010',
      '  RIP=0000000000008088 RFLAGS=0000000000000246 [PF ZF IF]',
      '  CS =0018 base=0000000000000000 limit=ffffffff type=b dpl=0 present=1 s=1 db=0 l=1 g=1',
      '  DS =0010 base=0000000000000000 limit=ffffffff type=3 dpl=0 present=1 s=1 db=1 l=0 g=1',
      '  ES =0010 base=0000000000000000 limit=ffffffff type=3 dpl=0 present=1 s=1 db=1 l=0 g=1',
      '  FS =0010 base=0000000000000000 limit=ffffffff type=3 dpl=0 present=1 s=1 db=1 l=0 g=1',
      '  GS =0010 base=0000000000000000 limit=ffffffff type=3 dpl=0 present=1 s=1 db=1 l=0 g=1',
      '  SS =0010 base=0000000000000000 limit=ffffffff type=3 dpl=0 present=1 s=1 db=1 l=0 g=1',
      '  TR =0000 base=0000000000000000 limit=0000ffff type=b dpl=0 present=1 s=0 db=0 l=0 g=0',
      '  LDT=0000 base=0000000000000000 limit=0000ffff type=2 dpl=0 present=1 s=0 db=0 l=0 g=0',
      '  GDT=0000000000008030 limit=001f  IDT=0000000000000000 limit=0000',
      '  CR0=00000000e0000011 CR2=0000000000000000 CR3=000000000000a000 CR4=0000000000000020',
      '  CR8=0000000000000000 EFER=0000000000000500 APIC_BASE=00000000fee00900',
      '  code at RIP (guest physical 0x8088): 0f 0b',
    ]);
  });

  it('says the registers are lost, and names the last exit, when KVM reset the vCPU (a shutdown on AMD SVM)', () => {
    const lost = 'vCPU 1: the registers at the fault are lost. On this host KVM runs on AMD SVM, which re-initialises a vCPU when it shuts down, so KVM reports the INIT state, not the guest\'s.';
    expect(lostRegistersReport(1, { reason: KVM_EXIT_IO, address: 0x3f8, write: true }, 25).split('\n')).toEqual([
      lost,
      '  the last exit tsvisor handled before the fault: KVM_EXIT_IO, a write to I/O port 0x3f8',
      '  exits handled before the fault: 25',
    ]);
    expect(lostRegistersReport(1, { reason: KVM_EXIT_MMIO, address: 0xfee000b0, write: false }, 3)).toContain(
      'the last exit tsvisor handled before the fault: KVM_EXIT_MMIO, a read of guest physical address 0xfee000b0\n',
    );
    expect(lostRegistersReport(1, { reason: KVM_EXIT_HLT, address: 0, write: false }, 3)).toContain('before the fault: KVM_EXIT_HLT\n');
    expect(lostRegistersReport(1, { reason: -1, address: 0, write: false }, 0)).toContain('before the fault: none: the fault came before the first exit\n');
  });

  it('says where a vCPU was when the VM was stopped from outside', () => {
    expect(formatStopPoint(0, 'running', regs, longMode, { reason: KVM_EXIT_IO, address: 0x3fd, write: false }, 1234)).toBe(
      'vCPU 0 was running in 64-bit long mode at 0x8088, interrupts enabled; 1234 exits, the last I/O or MMIO exit KVM_EXIT_IO, a read of I/O port 0x3fd',
    );
    const realMode = { ...longMode, cr0: 0x10n, efer: 0n, cs: segment(0x700, { base: 0x7000n, l: 0 }) };
    expect(formatStopPoint(1, 'halted', { ...regs, rip: 0x10n, rflags: 0x2n }, realMode, { reason: KVM_EXIT_MMIO, address: 0xfee000b0, write: true }, 7)).toBe(
      'vCPU 1 was halted in real mode at 0x7010, interrupts disabled; 7 exits, the last I/O or MMIO exit KVM_EXIT_MMIO, a write to guest physical address 0xfee000b0',
    );
    expect(formatStopPoint(2, 'waiting for a start-up IPI', undefined, undefined, { reason: -1, address: 0, write: false }, 0)).toBe(
      'vCPU 2 was waiting for a start-up IPI (its registers could not be read); 0 exits, no I/O or MMIO exit yet',
    );
  });
});
