/**
 * The architectural reset of an x86 processor, as plain data: the state a vCPU is put in at
 * power-on and by INIT, from the Intel SDM vol. 3A, 9.1.1 "Processor State After Reset" and
 * Table 9-1 "IA-32 and Intel 64 Processor States Following Power-up, Reset, or INIT".
 *
 * Both kinds leave the processor in real mode at F000:FFF0 (CS base FFFF0000H), with the
 * general, segment, control and debug registers as Table 9-1 lists them and nothing pending.
 * They differ where the table does (and 9.1 says it in words: "during an INIT, the internal
 * caches, MSRs, MTRRs, and x87 FPU state are left unchanged"):
 *   - power-on also sets the x87/SSE/AVX state, MXCSR, XCR0 and the MSRs that hold code and
 *     stack addresses; INIT keeps them;
 *   - INIT keeps CR0.CD and CR0.NW (the table's note on CR0).
 * IA32_APIC_BASE is not part of it: tsvisor's Local APIC owns that MSR, and a reset keeps
 * the value KVM holds. A start-up IPI then moves CS to the page it names (startupSegment).
 */
import type { KvmCpuidEntry2, KvmDebugregs, KvmRegs, KvmSegment, KvmSregs, KvmVcpuEvents } from '../kvm/index.js';
import { KVM_VCPUEVENT_VALID_NMI_PENDING, KVM_VCPUEVENT_VALID_SHADOW } from '../kvm/index.js';

/** Power-up or RESET# (Table 9-1's first columns), or INIT (its last). */
export type ResetKind = 'power-on' | 'init';

/** RFLAGS bit 1 is reserved and always 1: RFLAGS = 00000002H (Table 9-1). */
const RFLAGS_FIXED = 0x2n;

// CR0 (SDM vol. 3A, 2.5): ET is 1, and CD and NW (caching off) are set at power-up.
const CR0_ET = 1n << 4n;
const CR0_NW = 1n << 29n;
const CR0_CD = 1n << 30n;
/** CR0 = 60000010H at power-up (9.1.1); INIT sets ET and clears everything else but CD and NW (Table 9-1). */
const CR0_POWER_ON = CR0_CD | CR0_NW | CR0_ET;

/** RIP = 0000FFF0H, in the segment F000H based at FFFF0000H: the first instruction is at FFFFFFF0H (9.1.4). */
const RESET_RIP = 0xfff0n;

/** The state a reset gives a vCPU. */
export interface ResetState {
  readonly regs: KvmRegs;
  readonly sregs: KvmSregs;
  readonly debugregs: KvmDebugregs;
  readonly events: KvmVcpuEvents;
  /** What only power-on sets (INIT keeps it); undefined for INIT. */
  readonly powerOn: PowerOnState | undefined;
}

/** The state power-on sets and INIT keeps. */
export interface PowerOnState {
  readonly fpu: FpuState;
  /** XCR0 = 1: x87 state only ("after reset, all bits (except bit 0) in XCR0 are cleared", SDM vol. 3A, 2.6). */
  readonly xcr0: bigint;
  readonly msrs: readonly { readonly index: number; readonly data: bigint }[];
}

/** The x87 and SSE control and status words; every data register (ST0-ST7, XMM, YMM...) is zero. */
export interface FpuState {
  readonly fcw: number;
  readonly fsw: number;
  /** The abridged tag word of FXSAVE/XSAVE: a bit per register, 0 = empty (SDM vol. 1, 10.5.1.1). */
  readonly ftw: number;
  readonly mxcsr: number;
}

/**
 * The x87 FPU as FNINIT leaves it (Table 9-1's FINIT/FNINIT column: FCW 037FH, FSW 0, all
 * registers empty) rather than its power-up 0040H: tsvisor runs no firmware to execute FNINIT,
 * and kernels entered directly expect an initialized FPU (KVM creates vCPUs this way too).
 * MXCSR = 1F80H, every SIMD exception masked (Table 9-1).
 */
const FPU_RESET: FpuState = { fcw: 0x37f, fsw: 0, ftw: 0, mxcsr: 0x1f80 };

/**
 * The MSRs power-on sets. Table 9-1 leaves "all other MSRs" undefined at power-up and
 * unchanged by INIT; tsvisor zeroes the ones that hold code or stack addresses, so that a vCPU
 * never starts with another run's SYSCALL/SYSENTER entry points, and sets IA32_PAT to its
 * power-up value (SDM vol. 3A, 11.12.4), and disables the MTRRs (IA32_MTRR_DEF_TYPE = 0:
 * Table 9-1, 11.11.2.1), which a guest booted before a machine reset may have enabled. The rest
 * stay as KVM made them: EFER, FS.base and GS.base are set through the segment state; the TSC
 * is 0 at vCPU creation and runs on through a machine reset (KVM starts every vCPU's TSC
 * together, which a write here could only spoil); IA32_TSC_AUX, an ID, is one KVM refuses on
 * hosts without RDTSCP.
 */
const MSR = {
  IA32_SYSENTER_CS: 0x174,
  IA32_SYSENTER_ESP: 0x175,
  IA32_SYSENTER_EIP: 0x176,
  IA32_PAT: 0x277,
  IA32_MTRR_DEF_TYPE: 0x2ff,
  IA32_STAR: 0xc000_0081,
  IA32_LSTAR: 0xc000_0082,
  IA32_CSTAR: 0xc000_0083,
  IA32_FMASK: 0xc000_0084,
  IA32_KERNEL_GS_BASE: 0xc000_0102,
} as const;
/** PA0-PA7 = WB, WT, UC-, UC, WB, WT, UC-, UC (SDM vol. 3A, Table 11-12). */
const PAT_POWER_ON = 0x0007_0406_0007_0406n;
const MSRS_POWER_ON = [
  { index: MSR.IA32_SYSENTER_CS, data: 0n },
  { index: MSR.IA32_SYSENTER_ESP, data: 0n },
  { index: MSR.IA32_SYSENTER_EIP, data: 0n },
  { index: MSR.IA32_STAR, data: 0n },
  { index: MSR.IA32_LSTAR, data: 0n },
  { index: MSR.IA32_CSTAR, data: 0n },
  { index: MSR.IA32_FMASK, data: 0n },
  { index: MSR.IA32_KERNEL_GS_BASE, data: 0n },
  { index: MSR.IA32_PAT, data: PAT_POWER_ON },
  { index: MSR.IA32_MTRR_DEF_TYPE, data: 0n },
] as const;

/** The processor signature (family, model, stepping): CPUID.1:EAX, which reset leaves in EDX (Table 9-1; 9.1.3). */
export function processorSignature(cpuid: readonly KvmCpuidEntry2[]): number {
  const leaf = cpuid.find((entry) => entry.function === 1 && entry.index === 0);
  if (!leaf) {
    throw new Error('The vCPU has no CPUID leaf 1: set its CPUID (KVM_SET_CPUID2) before resetting it, since reset puts CPUID.1:EAX in EDX.');
  }
  return leaf.eax;
}

/**
 * The reset state. `previous` is the vCPU's segment state before the reset: INIT keeps its
 * CR0.CD and CR0.NW, and both kinds keep its IA32_APIC_BASE.
 */
export function resetState(kind: ResetKind, options: { readonly signature: number; readonly previous: KvmSregs }): ResetState {
  const { signature, previous } = options;
  if (!Number.isInteger(signature) || signature < 0 || signature > 0xffff_ffff) {
    throw new RangeError(`processor signature ${signature} is not a 32-bit CPUID.1:EAX value`);
  }
  return {
    regs: resetRegs(signature),
    sregs: resetSregs(kind, previous),
    debugregs: DEBUGREGS_RESET,
    events: EVENTS_RESET,
    powerOn: kind === 'power-on' ? { fpu: FPU_RESET, xcr0: 1n, msrs: MSRS_POWER_ON } : undefined,
  };
}

/** EAX (no BIST), EBX, ECX, ESI, EDI, EBP, ESP and R8-R15 are 0; EDX the signature; RFLAGS 2; RIP FFF0H (Table 9-1). */
function resetRegs(signature: number): KvmRegs {
  return {
    rax: 0n, rbx: 0n, rcx: 0n, rdx: BigInt(signature), rsi: 0n, rdi: 0n, rsp: 0n, rbp: 0n,
    r8: 0n, r9: 0n, r10: 0n, r11: 0n, r12: 0n, r13: 0n, r14: 0n, r15: 0n,
    rip: RESET_RIP,
    rflags: RFLAGS_FIXED,
  };
}

/** A real-mode segment: limit FFFFH, present, byte granular, 16-bit (Table 9-1). */
function realModeSegment(selector: number, base: bigint, type: number, s: number): KvmSegment {
  return { base, limit: 0xffff, selector, type, present: 1, dpl: 0, db: 0, s, l: 0, g: 0, avl: 0, unusable: 0, padding: 0 };
}

// Segment types (SDM vol. 3A, 3.4.5.1 and 3.5): read/write data and execute/read code, both
// accessed; LDT; busy 32-bit TSS (the type a task register must hold for VM entry).
const TYPE_DATA = 0x3;
const TYPE_CODE = 0xb;
const TYPE_LDT = 0x2;
const TYPE_TSS_BUSY = 0xb;

/**
 * Table 9-1: CS = F000H based at FFFF0000H; SS, DS, ES, FS, GS = 0 (so IA32_FS_BASE and
 * IA32_GS_BASE are 0); LDTR and TR selector 0, base 0; GDTR and IDTR base 0, limit FFFFH;
 * CR2, CR3, CR4 = 0; EFER = 0 (no long mode: the processor is in real mode). CR8, the APIC's
 * task priority, is 0 as the APIC's TPR is after reset (10.4.7.1). No interrupt is queued.
 */
function resetSregs(kind: ResetKind, previous: KvmSregs): KvmSregs {
  const data = realModeSegment(0, 0n, TYPE_DATA, 1);
  const table = () => ({ base: 0n, limit: 0xffff, padding: [0, 0, 0] });
  return {
    cs: realModeSegment(0xf000, 0xffff_0000n, TYPE_CODE, 1),
    ds: data, es: data, fs: data, gs: data, ss: data,
    tr: realModeSegment(0, 0n, TYPE_TSS_BUSY, 0),
    ldt: realModeSegment(0, 0n, TYPE_LDT, 0),
    gdt: table(), idt: table(),
    cr0: kind === 'power-on' ? CR0_POWER_ON : CR0_ET | (previous.cr0 & (CR0_CD | CR0_NW)),
    cr2: 0n, cr3: 0n, cr4: 0n, cr8: 0n,
    efer: 0n,
    apic_base: previous.apic_base,
    interrupt_bitmap: [0n, 0n, 0n, 0n],
  };
}

/** DR0-DR3 = 0, DR6 = FFFF0FF0H, DR7 = 00000400H (Table 9-1). */
const DEBUGREGS_RESET: KvmDebugregs = { db: [0n, 0n, 0n, 0n], dr6: 0xffff_0ff0n, dr7: 0x400n, flags: 0n, reserved: new Array<bigint>(9).fill(0n) };

/**
 * Nothing pending or being delivered: no exception, no external interrupt (one queued with
 * KVM_INTERRUPT would otherwise be delivered after the reset), no NMI pending or injected, NMIs
 * not blocked, no interrupt shadow (STI or MOV SS). The flags make KVM apply the pending NMI
 * count and the shadow; an exception is cleared whole without KVM_VCPUEVENT_VALID_PAYLOAD.
 * A pending start-up IPI is tsvisor's own (its Local APIC is in userspace), so sipi_vector is
 * left out; so is SMM, which tsvisor guests never enter.
 */
const EVENTS_RESET: KvmVcpuEvents = {
  exception: { injected: 0, nr: 0, has_error_code: 0, pending: 0, error_code: 0 },
  interrupt: { injected: 0, nr: 0, soft: 0, shadow: 0 },
  nmi: { injected: 0, pending: 0, masked: 0, pad: 0 },
  sipi_vector: 0,
  flags: KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SHADOW,
  smi: { smm: 0, pending: 0, smm_inside_nmi: 0, latched_init: 0 },
  triple_fault: { pending: 0 },
  reserved: new Array<number>(26).fill(0),
  exception_has_payload: 0,
  exception_payload: 0n,
};

/**
 * The code segment a start-up IPI with `vector` loads in a processor waiting for it: selector
 * vector << 8, base vector << 12, so that it runs from IP 0 in the page the SIPI names (SDM
 * vol. 3A, 8.4.3). Everything else stays as the reset left it.
 */
export function startupSegment(vector: number): KvmSegment {
  if (!Number.isInteger(vector) || vector < 0 || vector > 0xff) throw new RangeError(`start-up vector ${vector} is not 0-255`);
  return realModeSegment(vector << 8, BigInt(vector) << 12n, TYPE_CODE, 1);
}

// The XSAVE image (SDM vol. 1, 10.5.1 Table 10-2 "Format of an FXSAVE Area", and 13.4): the
// legacy region's control words, then the XSAVE header's XSTATE_BV at byte 512. KVM takes it
// as struct kvm_xsave's 4096-byte region.
const XSAVE_IMAGE_SIZE = 4096;
const FXSAVE_FCW = 0;
const FXSAVE_FSW = 2;
const FXSAVE_FTW = 4;
const FXSAVE_MXCSR = 24;
const XSAVE_XSTATE_BV = 512;
/** x87 and SSE state given in the image; every other component (AVX, ...) takes its initial state, zero, as XRSTOR gives it (13.8). */
const XSTATE_X87_SSE = 0b11n;

/** `fpu` as a 4096-byte XSAVE image (struct kvm_xsave's region) for KVM_SET_XSAVE, every data register zero. */
export function xsaveImage(fpu: FpuState): Uint8Array {
  const image = new Uint8Array(XSAVE_IMAGE_SIZE);
  const view = new DataView(image.buffer);
  view.setUint16(FXSAVE_FCW, fpu.fcw, true);
  view.setUint16(FXSAVE_FSW, fpu.fsw, true);
  view.setUint8(FXSAVE_FTW, fpu.ftw);
  view.setUint32(FXSAVE_MXCSR, fpu.mxcsr, true);
  view.setBigUint64(XSAVE_XSTATE_BV, XSTATE_X87_SSE, true);
  return image;
}
