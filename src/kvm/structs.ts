/**
 * The KVM structs tsvisor exchanges with the kernel, with the member names of
 * <linux/kvm.h> and <asm/kvm.h> (x86_64). Anonymous C members are named `_...` here.
 */
import { KVM_MAX_XCRS } from './constants.js';
import { array, flexibleArray, struct, u16, u32, u64, u8, union, type Value } from './layout.js';

export const kvm_regs = struct('kvm_regs', {
  rax: u64, rbx: u64, rcx: u64, rdx: u64,
  rsi: u64, rdi: u64, rsp: u64, rbp: u64,
  r8: u64, r9: u64, r10: u64, r11: u64,
  r12: u64, r13: u64, r14: u64, r15: u64,
  rip: u64, rflags: u64,
});
export type KvmRegs = Value<typeof kvm_regs>;

export const kvm_segment = struct('kvm_segment', {
  base: u64,
  limit: u32,
  selector: u16,
  type: u8,
  present: u8, dpl: u8, db: u8, s: u8, l: u8, g: u8, avl: u8,
  unusable: u8,
  padding: u8,
});
export type KvmSegment = Value<typeof kvm_segment>;

export const kvm_dtable = struct('kvm_dtable', {
  base: u64,
  limit: u16,
  padding: array(u16, 3),
});
export type KvmDtable = Value<typeof kvm_dtable>;

/** KVM_NR_INTERRUPTS is 256: one bit per vector. */
const KVM_NR_INTERRUPTS = 256;

export const kvm_sregs = struct('kvm_sregs', {
  cs: kvm_segment, ds: kvm_segment, es: kvm_segment, fs: kvm_segment, gs: kvm_segment, ss: kvm_segment,
  tr: kvm_segment, ldt: kvm_segment,
  gdt: kvm_dtable, idt: kvm_dtable,
  cr0: u64, cr2: u64, cr3: u64, cr4: u64, cr8: u64,
  efer: u64,
  apic_base: u64,
  interrupt_bitmap: array(u64, Math.ceil(KVM_NR_INTERRUPTS / 64)),
});
export type KvmSregs = Value<typeof kvm_sregs>;

export const kvm_userspace_memory_region = struct('kvm_userspace_memory_region', {
  slot: u32,
  flags: u32,
  guest_phys_addr: u64,
  memory_size: u64,
  userspace_addr: u64,
});
export type KvmUserspaceMemoryRegion = Value<typeof kvm_userspace_memory_region>;

export const kvm_cpuid_entry2 = struct('kvm_cpuid_entry2', {
  function: u32,
  index: u32,
  flags: u32,
  eax: u32, ebx: u32, ecx: u32, edx: u32,
  padding: array(u32, 3),
});
export type KvmCpuidEntry2 = Value<typeof kvm_cpuid_entry2>;

export const kvm_cpuid2 = struct('kvm_cpuid2', {
  nent: u32,
  padding: u32,
  entries: flexibleArray(kvm_cpuid_entry2),
});

export const kvm_interrupt = struct('kvm_interrupt', { irq: u32 });

export const kvm_msr_entry = struct('kvm_msr_entry', { index: u32, reserved: u32, data: u64 });
export type KvmMsrEntry = Value<typeof kvm_msr_entry>;

export const kvm_msrs = struct('kvm_msrs', {
  nmsrs: u32,
  pad: u32,
  entries: flexibleArray(kvm_msr_entry),
});

export const kvm_mp_state = struct('kvm_mp_state', { mp_state: u32 });

export const kvm_enable_cap = struct('kvm_enable_cap', {
  cap: u32,
  flags: u32,
  args: array(u64, 4),
  pad: array(u8, 64),
});
export type KvmEnableCap = Value<typeof kvm_enable_cap>;

export const kvm_translation = struct('kvm_translation', {
  linear_address: u64,
  physical_address: u64,
  valid: u8,
  writeable: u8,
  usermode: u8,
  pad: array(u8, 5),
});

export const kvm_debug_exit_arch = struct('kvm_debug_exit_arch', {
  exception: u32,
  pad: u32,
  pc: u64,
  dr6: u64,
  dr7: u64,
});

/**
 * struct kvm_run: the page shared with the kernel through mmap of the vCPU fd. Only the
 * exit payloads tsvisor reads are declared in the union; its 256-byte padding fixes the
 * union's size exactly as the header does.
 */
export const kvm_run = struct('kvm_run', {
  request_interrupt_window: u8,
  immediate_exit: u8,
  padding1: array(u8, 6),
  exit_reason: u32,
  ready_for_interrupt_injection: u8,
  if_flag: u8,
  flags: u16,
  cr8: u64,
  apic_base: u64,
  _exit: union('', {
    hw: struct('', { hardware_exit_reason: u64 }),
    fail_entry: struct('', { hardware_entry_failure_reason: u64, cpu: u32 }),
    ex: struct('', { exception: u32, error_code: u32 }),
    io: struct('', { direction: u8, size: u8, port: u16, count: u32, data_offset: u64 }),
    debug: struct('', { arch: kvm_debug_exit_arch }),
    mmio: struct('', { phys_addr: u64, data: array(u8, 8), len: u32, is_write: u8 }),
    internal: struct('', { suberror: u32, ndata: u32, data: array(u64, 16) }),
    emulation_failure: struct('', {
      suberror: u32,
      ndata: u32,
      flags: u64,
      _bytes: union('', { _insn: struct('', { insn_size: u8, insn_bytes: array(u8, 15) }) }),
    }),
    system_event: struct('', {
      type: u32,
      ndata: u32,
      _payload: union('', { flags: u64, data: array(u64, 16) }),
    }),
    msr: struct('', { error: u8, pad: array(u8, 7), reason: u32, index: u32, data: u64 }),
    padding: array(u8, 256),
  }),
  kvm_valid_regs: u64,
  kvm_dirty_regs: u64,
  s: union('', { padding: array(u8, 2048) }),
});

/** KVM_X86_SET_MSR_FILTER: `bitmap` is a pointer (a host address) to nmsrs bits, 1 allowing the accesses in flags. */
export const kvm_msr_filter_range = struct('kvm_msr_filter_range', { flags: u32, nmsrs: u32, base: u32, bitmap: u64 });
export type KvmMsrFilterRange = Value<typeof kvm_msr_filter_range>;
/** KVM_MSR_FILTER_MAX_RANGES is 16. */
export const kvm_msr_filter = struct('kvm_msr_filter', { flags: u32, ranges: array(kvm_msr_filter_range, 16) });

/** KVM_GET_VCPU_EVENTS / KVM_SET_VCPU_EVENTS: the events pending or being delivered, and the NMI mask and interrupt shadow. */
export const kvm_vcpu_events = struct('kvm_vcpu_events', {
  exception: struct('', { injected: u8, nr: u8, has_error_code: u8, pending: u8, error_code: u32 }),
  interrupt: struct('', { injected: u8, nr: u8, soft: u8, shadow: u8 }),
  nmi: struct('', { injected: u8, pending: u8, masked: u8, pad: u8 }),
  sipi_vector: u32,
  flags: u32,
  smi: struct('', { smm: u8, pending: u8, smm_inside_nmi: u8, latched_init: u8 }),
  triple_fault: struct('', { pending: u8 }),
  reserved: array(u8, 26),
  exception_has_payload: u8,
  exception_payload: u64,
});
export type KvmVcpuEvents = Value<typeof kvm_vcpu_events>;

/** KVM_GET_DEBUGREGS / KVM_SET_DEBUGREGS: DR0-DR3 (`db`), DR6 and DR7. */
export const kvm_debugregs = struct('kvm_debugregs', {
  db: array(u64, 4),
  dr6: u64,
  dr7: u64,
  flags: u64,
  reserved: array(u64, 9),
});
export type KvmDebugregs = Value<typeof kvm_debugregs>;

/**
 * KVM_GET_XSAVE / KVM_SET_XSAVE: the guest's x87, SSE, AVX... state as the XSAVE instruction
 * stores it (standard, not compacted, format). tsvisor passes `region` as raw bytes.
 */
export const kvm_xsave = struct('kvm_xsave', { region: array(u32, 1024), extra: flexibleArray(u32) });

/** KVM_GET_XCRS / KVM_SET_XCRS: the extended control registers (XCR0 is the only one). */
export const kvm_xcr = struct('kvm_xcr', { xcr: u32, reserved: u32, value: u64 });
export type KvmXcr = Value<typeof kvm_xcr>;
export const kvm_xcrs = struct('kvm_xcrs', {
  nr_xcrs: u32,
  flags: u32,
  xcrs: array(kvm_xcr, KVM_MAX_XCRS),
  padding: array(u64, 16),
});

/** Every struct above, for the ABI test. */
export const ALL_STRUCTS = [
  kvm_regs, kvm_segment, kvm_dtable, kvm_sregs, kvm_userspace_memory_region, kvm_cpuid_entry2, kvm_cpuid2,
  kvm_interrupt, kvm_msr_entry, kvm_msrs, kvm_mp_state, kvm_enable_cap, kvm_translation, kvm_debug_exit_arch,
  kvm_msr_filter_range, kvm_msr_filter, kvm_run, kvm_vcpu_events, kvm_debugregs, kvm_xsave, kvm_xcr, kvm_xcrs,
];
