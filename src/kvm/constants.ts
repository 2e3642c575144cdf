/** Constants of the KVM API, with the names of <linux/kvm.h>. */

export const KVM_API_VERSION = 12;

/** kvm_run.exit_reason values, and their names for messages about exits tsvisor does not handle. */
export const KVM_EXIT_UNKNOWN = 0;
export const KVM_EXIT_EXCEPTION = 1;
export const KVM_EXIT_IO = 2;
export const KVM_EXIT_HYPERCALL = 3;
export const KVM_EXIT_DEBUG = 4;
export const KVM_EXIT_HLT = 5;
export const KVM_EXIT_MMIO = 6;
export const KVM_EXIT_IRQ_WINDOW_OPEN = 7;
export const KVM_EXIT_SHUTDOWN = 8;
export const KVM_EXIT_FAIL_ENTRY = 9;
export const KVM_EXIT_INTR = 10;
export const KVM_EXIT_SET_TPR = 11;
export const KVM_EXIT_TPR_ACCESS = 12;
export const KVM_EXIT_NMI = 16;
export const KVM_EXIT_INTERNAL_ERROR = 17;
export const KVM_EXIT_SYSTEM_EVENT = 24;
export const KVM_EXIT_IOAPIC_EOI = 26;
export const KVM_EXIT_X86_RDMSR = 29;
export const KVM_EXIT_X86_WRMSR = 30;
export const KVM_EXIT_DIRTY_RING_FULL = 31;
export const KVM_EXIT_X86_BUS_LOCK = 33;
export const KVM_EXIT_NOTIFY = 37;

export const EXIT_REASON_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries({
    KVM_EXIT_UNKNOWN, KVM_EXIT_EXCEPTION, KVM_EXIT_IO, KVM_EXIT_HYPERCALL, KVM_EXIT_DEBUG, KVM_EXIT_HLT, KVM_EXIT_MMIO,
    KVM_EXIT_IRQ_WINDOW_OPEN, KVM_EXIT_SHUTDOWN, KVM_EXIT_FAIL_ENTRY, KVM_EXIT_INTR, KVM_EXIT_SET_TPR, KVM_EXIT_TPR_ACCESS,
    KVM_EXIT_NMI, KVM_EXIT_INTERNAL_ERROR, KVM_EXIT_SYSTEM_EVENT, KVM_EXIT_IOAPIC_EOI, KVM_EXIT_X86_RDMSR, KVM_EXIT_X86_WRMSR,
    KVM_EXIT_DIRTY_RING_FULL, KVM_EXIT_X86_BUS_LOCK, KVM_EXIT_NOTIFY,
  }).map(([name, reason]) => [reason, name]),
);

/** kvm_run.io.direction */
export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** kvm_run.internal.suberror */
export const KVM_INTERNAL_ERROR_EMULATION = 1;
export const KVM_INTERNAL_ERROR_SIMUL_EX = 2;
export const KVM_INTERNAL_ERROR_DELIVERY_EV = 3;
export const KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON = 4;
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1n;

/** kvm_run.msr.reason, and the KVM_CAP_X86_USER_SPACE_MSR argument choosing which MSR accesses exit to userspace. */
export const KVM_MSR_EXIT_REASON_INVAL = 1 << 0;
export const KVM_MSR_EXIT_REASON_UNKNOWN = 1 << 1;
export const KVM_MSR_EXIT_REASON_FILTER = 1 << 2;

/** kvm_msr_filter.flags and kvm_msr_filter_range.flags */
export const KVM_MSR_FILTER_DEFAULT_ALLOW = 0;
export const KVM_MSR_FILTER_READ = 1 << 0;
export const KVM_MSR_FILTER_WRITE = 1 << 1;
export const KVM_MSR_FILTER_MAX_RANGES = 16;

/** kvm_run.system_event.type */
export const KVM_SYSTEM_EVENT_SHUTDOWN = 1;
export const KVM_SYSTEM_EVENT_RESET = 2;
export const KVM_SYSTEM_EVENT_CRASH = 3;

/** kvm_userspace_memory_region.flags */
export const KVM_MEM_READONLY = 1 << 1;

/** kvm_mp_state.mp_state */
export const KVM_MP_STATE_RUNNABLE = 0;
export const KVM_MP_STATE_UNINITIALIZED = 1;
export const KVM_MP_STATE_INIT_RECEIVED = 2;
export const KVM_MP_STATE_HALTED = 3;
export const KVM_MP_STATE_SIPI_RECEIVED = 4;

/** kvm_vcpu_events.flags: which optional members KVM_SET_VCPU_EVENTS is to apply. */
export const KVM_VCPUEVENT_VALID_NMI_PENDING = 0x1;
export const KVM_VCPUEVENT_VALID_SHADOW = 0x4;

/** The size of kvm_xcrs.xcrs. */
export const KVM_MAX_XCRS = 16;

/**
 * How many CPUID entries a vCPU can hold (the kernel's KVM_MAX_CPUID_ENTRIES, which is not in
 * the uapi headers): the buffer size for KVM_GET_SUPPORTED_CPUID and KVM_GET_CPUID2.
 */
export const MAX_CPUID_ENTRIES = 256;

/** KVM_CHECK_EXTENSION capabilities tsvisor asks about. */
export const KVM_CAP_USER_MEMORY = 3;
export const KVM_CAP_SET_TSS_ADDR = 4;
export const KVM_CAP_EXT_CPUID = 7;
export const KVM_CAP_NR_MEMSLOTS = 10;
export const KVM_CAP_SET_IDENTITY_MAP_ADDR = 37;
export const KVM_CAP_MP_STATE = 14;
export const KVM_CAP_VCPU_EVENTS = 41;
export const KVM_CAP_DEBUGREGS = 50;
export const KVM_CAP_XSAVE = 55;
export const KVM_CAP_XCRS = 56;
export const KVM_CAP_MAX_VCPUS = 66;
export const KVM_CAP_GET_TSC_KHZ = 61;
export const KVM_CAP_TSC_DEADLINE_TIMER = 72;
export const KVM_CAP_READONLY_MEM = 81;
export const KVM_CAP_IMMEDIATE_EXIT = 136;
export const KVM_CAP_X86_USER_SPACE_MSR = 188;
export const KVM_CAP_X86_MSR_FILTER = 189;
