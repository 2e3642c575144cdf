/**
 * `info registers` text against QEMU 7.2's, for the two layouts: a 64-bit guest (tsvisor's
 * bench guest stopped in its pio-out loop under qemu-system-x86_64 -accel tcg) and a CPU at
 * reset in real mode (SeaBIOS halted, -S then cont). The states are those QEMU printed.
 */
import { describe, expect, it } from 'vitest';
import type { KvmSregs } from '../../src/kvm/index.js';
import { formatCpuDump, type CpuDumpState } from '../../src/monitor/cpu-dump.js';
import { DEBUG, fxsave, segment, sregs, ZERO_REGS } from './cpu-states.js';

describe('formatCpuDump', () => {
  it('prints a 64-bit CPU as QEMU 7.2 did', () => {
    const data = segment(0x10, 0n, 0xffffffff, 3, { db: 1, g: 1 });
    const state: CpuDumpState = {
      regs: { ...ZERO_REGS, rbx: 0x202520n, rcx: 0x2f29000n, rdx: 0x1234n, rsi: 7n, rdi: 0x5f5e100n, rsp: 0x212ef8n, r8: 0x74n, r9: 0x3f8n, r11: 0x20n, r12: 0x72b87c3n, r13: 1n, rip: 0x2000a0n, rflags: 6n },
      sregs: sregs({
        es: data, ds: data, ss: data, fs: data, gs: data,
        cs: segment(0x18, 0n, 0xffffffff, 0xa, { l: 1, g: 1 }),
        ldt: segment(0, 0n, 0xffff, 2, { s: 0 }),
        tr: segment(0, 0n, 0xffff, 0xb, { s: 0 }),
        gdt: { base: 0x2032d0n, limit: 0x1f, padding: [] }, idt: { base: 0x2137a0n, limit: 0xfff, padding: [] },
        cr0: 0x80000011n, cr2: 0n, cr3: 0x206000n, cr4: 0x20n, efer: 0x500n,
      } as Partial<KvmSregs>),
      debugregs: DEBUG,
      xsave: fxsave(0x37f, 0x1f80),
      interruptShadow: false,
      halted: false,
    };
    const expected =
      '\r\nCPU#0\r\nRAX=0000000000000000 RBX=0000000000202520 RCX=0000000002f29000 RDX=0000000000001234\r\nRSI=0000000000000007 RDI=0000000005f5e100 RBP=0000000000000000 RSP=0000000000212ef8\r\nR8 =0000000000000074 R9 =00000000000003f8 R10=0000000000000000 R11=0000000000000020\r\nR12=00000000072b87c3 R13=0000000000000001 R14=0000000000000000 R15=0000000000000000\r\nRIP=00000000002000a0 RFL=00000006 [-----P-] CPL=0 II=0 A20=1 SMM=0 HLT=0\r\nES =0010 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\nCS =0018 0000000000000000 ffffffff 00af9a00 DPL=0 CS64 [-R-]\r\nSS =0010 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\nDS =0010 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\nFS =0010 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\nGS =0010 0000000000000000 ffffffff 00cf9300 DPL=0 DS   [-WA]\r\nLDT=0000 0000000000000000 0000ffff 00008200 DPL=0 LDT\r\nTR =0000 0000000000000000 0000ffff 00008b00 DPL=0 TSS64-busy\r\nGDT=     00000000002032d0 0000001f\r\nIDT=     00000000002137a0 00000fff\r\nCR0=80000011 CR2=0000000000000000 CR3=0000000000206000 CR4=00000020\r\nDR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 \r\nDR6=00000000ffff0ff0 DR7=0000000000000400\r\nEFER=0000000000000500\r\nFCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80\r\nFPR0=0000000000000000 0000 FPR1=0000000000000000 0000\r\nFPR2=0000000000000000 0000 FPR3=0000000000000000 0000\r\nFPR4=0000000000000000 0000 FPR5=0000000000000000 0000\r\nFPR6=0000000000000000 0000 FPR7=0000000000000000 0000\r\nXMM00=0000000000000000 0000000000000000 XMM01=0000000000000000 0000000000000000\r\nXMM02=0000000000000000 0000000000000000 XMM03=0000000000000000 0000000000000000\r\nXMM04=0000000000000000 0000000000000000 XMM05=0000000000000000 0000000000000000\r\nXMM06=0000000000000000 0000000000000000 XMM07=0000000000000000 0000000000000000\r\nXMM08=0000000000000000 0000000000000000 XMM09=0000000000000000 0000000000000000\r\nXMM10=0000000000000000 0000000000000000 XMM11=0000000000000000 0000000000000000\r\nXMM12=0000000000000000 0000000000000000 XMM13=0000000000000000 0000000000000000\r\nXMM14=0000000000000000 0000000000000000 XMM15=0000000000000000 0000000000000000\r\n';
    expect(formatCpuDump(0, state)).toBe(expected);
  });

  it('prints a real-mode CPU as QEMU 7.2 did: 32-bit names, no descriptor decoding', () => {
    const real = (selector: number, type = 3) => segment(selector, BigInt(selector) << 4n, 0xffff, type);
    const state: CpuDumpState = {
      regs: { ...ZERO_REGS, rcx: 0xb79dn, rsi: 0xb79dn, rbp: 0xb79dn, rsp: 0x6f94n, rip: 0xb7b9n, rflags: 0x246n },
      sregs: sregs({
        es: real(0xd980), cs: real(0xf000, 0xb), ss: real(0), ds: real(0), fs: real(0), gs: real(0),
        ldt: segment(0, 0n, 0xffff, 2, { s: 0 }), tr: segment(0, 0n, 0xffff, 0xb, { s: 0 }),
        gdt: { base: 0n, limit: 0, padding: [] }, idt: { base: 0n, limit: 0x3ff, padding: [] },
        cr0: 0x10n, cr2: 0n, cr3: 0n, cr4: 0n, efer: 0n,
      } as Partial<KvmSregs>),
      debugregs: DEBUG,
      xsave: fxsave(0x37f, 0x1f80),
      interruptShadow: false,
      halted: true,
    };
    const expected =
      '\r\nCPU#0\r\nEAX=00000000 EBX=00000000 ECX=0000b79d EDX=00000000\r\nESI=0000b79d EDI=00000000 EBP=0000b79d ESP=00006f94\r\nEIP=0000b7b9 EFL=00000246 [---Z-P-] CPL=0 II=0 A20=1 SMM=0 HLT=1\r\nES =d980 000d9800 0000ffff 00009300\r\nCS =f000 000f0000 0000ffff 00009b00\r\nSS =0000 00000000 0000ffff 00009300\r\nDS =0000 00000000 0000ffff 00009300\r\nFS =0000 00000000 0000ffff 00009300\r\nGS =0000 00000000 0000ffff 00009300\r\nLDT=0000 00000000 0000ffff 00008200\r\nTR =0000 00000000 0000ffff 00008b00\r\nGDT=     00000000 00000000\r\nIDT=     00000000 000003ff\r\nCR0=00000010 CR2=00000000 CR3=00000000 CR4=00000000\r\nDR0=0000000000000000 DR1=0000000000000000 DR2=0000000000000000 DR3=0000000000000000 \r\nDR6=00000000ffff0ff0 DR7=0000000000000400\r\nEFER=0000000000000000\r\nFCW=037f FSW=0000 [ST=0] FTW=00 MXCSR=00001f80\r\nFPR0=0000000000000000 0000 FPR1=0000000000000000 0000\r\nFPR2=0000000000000000 0000 FPR3=0000000000000000 0000\r\nFPR4=0000000000000000 0000 FPR5=0000000000000000 0000\r\nFPR6=0000000000000000 0000 FPR7=0000000000000000 0000\r\nXMM00=0000000000000000 0000000000000000 XMM01=0000000000000000 0000000000000000\r\nXMM02=0000000000000000 0000000000000000 XMM03=0000000000000000 0000000000000000\r\nXMM04=0000000000000000 0000000000000000 XMM05=0000000000000000 0000000000000000\r\nXMM06=0000000000000000 0000000000000000 XMM07=0000000000000000 0000000000000000\r\n';
    expect(formatCpuDump(0, state)).toBe(expected);
  });

  it('decodes the x87 status: the stack top from FSW, mantissa and exponent of each register', () => {
    const area = fxsave(0x37f, 0x1f80);
    const view = new DataView(area.buffer);
    view.setUint16(2, 7 << 11, true);
    view.setUint8(4, 0x80);
    view.setBigUint64(32 + 16 * 7, 0x8000000000000000n, true);
    view.setUint16(40 + 16 * 7, 0x3fff, true);
    view.setBigUint64(160, 0x1111n, true);
    view.setBigUint64(168, 0x2222n, true);
    const text = formatCpuDump(1, {
      regs: ZERO_REGS,
      sregs: sregs({ es: segment(0, 0n, 0xffff, 3), cs: segment(0, 0n, 0xffff, 0xb), ss: segment(0, 0n, 0xffff, 3), ds: segment(0, 0n, 0xffff, 3), fs: segment(0, 0n, 0xffff, 3), gs: segment(0, 0n, 0xffff, 3), ldt: segment(0, 0n, 0xffff, 2, { s: 0 }), tr: segment(0, 0n, 0xffff, 0xb, { s: 0 }), gdt: { base: 0n, limit: 0, padding: [] }, idt: { base: 0n, limit: 0, padding: [] }, cr0: 0n, cr2: 0n, cr3: 0n, cr4: 0n, efer: 0n } as Partial<KvmSregs>),
      debugregs: DEBUG,
      xsave: area,
      interruptShadow: true,
      halted: false,
    });
    expect(text).toContain('CPU#1\r\n');
    expect(text).toContain('II=1');
    expect(text).toContain('FCW=037f FSW=3800 [ST=7] FTW=80 MXCSR=00001f80\r\n');
    expect(text).toContain('FPR6=0000000000000000 0000 FPR7=8000000000000000 3fff\r\n');
    expect(text).toContain('XMM00=0000000000002222 0000000000001111 ');
  });
});
