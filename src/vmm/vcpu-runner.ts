/**
 * The exit loop of one vCPU: KVM_RUN, then handle the exit, until the VM must end.
 *
 * I/O and MMIO exits go to the buses; everything that ends the VM becomes a VmExit with a
 * message and, for a crash, a register dump. An exit reason this loop does not know ends
 * the VM with its name: nothing loops silently. The hot path (an I/O or MMIO exit)
 * allocates nothing.
 */
import { existsSync } from 'node:fs';
import type { Bus } from '../devices/bus.js';
import { hex } from '../errors.js';
import * as kvm from '../kvm/index.js';
import type { GuestMemory } from '../memory/guest-memory.js';
import { formatRegisterDump, instructionPointer, pagingEnabled, type CodeBytes } from './register-dump.js';
import type { VmExit } from './vm-exit.js';

/** State the loop shares with the devices: a device that ends the VM sets `exit`. */
export interface RunControl {
  exit: VmExit | undefined;
}

/** How often (in exits) the loop calls `periodic`: a power of two, for a cheap mask test. */
const PERIODIC_EXITS = 1024;
const INSTRUCTION_BYTES = 15;
const PVM_MODULE = '/sys/module/kvm_pvm';

const INTERNAL_ERROR_MEANINGS: Readonly<Record<number, string>> = {
  [kvm.KVM_INTERNAL_ERROR_EMULATION]: 'KVM could not emulate an instruction',
  [kvm.KVM_INTERNAL_ERROR_SIMUL_EX]: 'an exception occurred while another was being delivered',
  [kvm.KVM_INTERNAL_ERROR_DELIVERY_EV]:
    'KVM could not deliver an event (an exception or interrupt) to the guest; its IDT, GDT or stack may point outside RAM',
  [kvm.KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON]: 'the CPU left the guest for a reason KVM did not expect',
};

export class VcpuRunner {
  private exitCount = 0;
  /** I/O data views for the last data offset KVM used, by access size. */
  private ioViews: Uint8Array[] = [];
  private ioViewsOffset = -1;

  constructor(
    private readonly vcpu: kvm.Vcpu,
    private readonly ioBus: Bus,
    private readonly mmioBus: Bus,
    private readonly memory: GuestMemory,
    private readonly control: RunControl,
    /** Called every PERIODIC_EXITS exits (the console's input pump). */
    private readonly periodic: () => void = () => {},
  ) {}

  /** Runs the vCPU until the VM ends, and says how it ended. */
  run(): VmExit {
    const vcpu = this.vcpu;
    const kvmRun = vcpu.kvmRun;
    const control = this.control;
    for (;;) {
      const reason = vcpu.run();
      switch (reason) {
        case kvm.KVM_EXIT_IO:
          if (!this.handleIo(kvmRun)) return this.failure('KVM reported an I/O exit tsvisor cannot decode (bad size or data offset).');
          break;
        case kvm.KVM_EXIT_MMIO:
          if (!this.handleMmio(kvmRun)) return this.failure(`KVM reported an MMIO exit of ${kvmRun.mmioLen} bytes, which tsvisor cannot decode.`);
          break;
        case kvm.KVM_EXIT_INTR:
          break; // a kick: nothing is pending yet, go back in
        case kvm.KVM_EXIT_HLT:
          return this.halted(kvmRun);
        case kvm.KVM_EXIT_SHUTDOWN:
          return this.failure(
            'The guest triple-faulted (KVM_EXIT_SHUTDOWN): an exception could not be delivered, nor the double fault after it, so the CPU shut down. Look at the IDT, the stack and the code at RIP below.',
          );
        case kvm.KVM_EXIT_FAIL_ENTRY:
          return this.failEntry(kvmRun);
        case kvm.KVM_EXIT_INTERNAL_ERROR:
          return this.internalError(kvmRun);
        case kvm.KVM_EXIT_SYSTEM_EVENT:
          return this.systemEvent(kvmRun);
        case kvm.KVM_EXIT_DEBUG: {
          const debug = kvmRun.debugExit();
          return this.failure(
            `The guest stopped on a debug exception (KVM_EXIT_DEBUG: exception ${debug.exception} at ${hex(debug.pc)}, DR6 ${hex(debug.dr6)}, DR7 ${hex(debug.dr7)}); tsvisor does not debug guests yet.`,
          );
        }
        default:
          return this.failure(
            `The vCPU exited with ${kvm.EXIT_REASON_NAMES[reason] ?? 'an unknown reason'} (exit reason ${reason}), which tsvisor does not handle.`,
          );
      }
      if (control.exit) return control.exit;
      if ((++this.exitCount & (PERIODIC_EXITS - 1)) === 0) this.periodic();
    }
  }

  private handleIo(kvmRun: kvm.KvmRun): boolean {
    const size = kvmRun.ioSize;
    const count = kvmRun.ioCount;
    const offset = kvmRun.ioDataOffset;
    if ((size !== 1 && size !== 2 && size !== 4) || count < 1 || offset + size * count > kvmRun.bytes.length) return false;
    const port = kvmRun.ioPort;
    const bus = this.ioBus;
    const isIn = kvmRun.ioDirection === kvm.KVM_EXIT_IO_IN;
    if (count === 1) {
      const data = this.ioView(kvmRun, offset, size);
      if (isIn) bus.read(port, data);
      else bus.write(port, data);
      return true;
    }
    // String I/O (rep ins/outs): one exit carries `count` elements, each an access to the same port.
    for (let i = 0; i < count; i++) {
      const data = kvmRun.bytes.subarray(offset + i * size, offset + (i + 1) * size);
      if (isIn) bus.read(port, data);
      else bus.write(port, data);
    }
    return true;
  }

  private ioView(kvmRun: kvm.KvmRun, offset: number, size: number): Uint8Array {
    if (offset !== this.ioViewsOffset) {
      this.ioViewsOffset = offset;
      this.ioViews = [];
      for (const length of [1, 2, 4]) this.ioViews[length] = kvmRun.bytes.subarray(offset, offset + length);
    }
    return this.ioViews[size] as Uint8Array;
  }

  private handleMmio(kvmRun: kvm.KvmRun): boolean {
    const length = kvmRun.mmioLen;
    if (length < 1 || length > 8) return false;
    const data = kvmRun.mmioData(length);
    if (kvmRun.mmioIsWrite) this.mmioBus.write(kvmRun.mmioPhysAddr, data);
    else this.mmioBus.read(kvmRun.mmioPhysAddr, data);
    return true;
  }

  private halted(kvmRun: kvm.KvmRun): VmExit {
    const interrupts = kvmRun.ifFlag ? 'enabled' : 'disabled';
    return this.failure(
      `vCPU ${this.vcpu.id} halted (HLT with interrupts ${interrupts}) and nothing can wake it: this version of tsvisor has no interrupt controller. End the guest through the debug-exit port (a write to I/O port 0xf4) or the power-off register (0x2000 to port 0x604) to choose how tsvisor exits.`,
    );
  }

  private failEntry(kvmRun: kvm.KvmRun): VmExit {
    const { hardwareEntryFailureReason, cpu } = kvmRun.failEntry();
    return this.failure(
      `The CPU refused to enter the guest (KVM_EXIT_FAIL_ENTRY, hardware entry failure reason ${hex(hardwareEntryFailureReason)} on host CPU ${cpu}): the vCPU state is not valid for VM entry.`,
    );
  }

  private internalError(kvmRun: kvm.KvmRun): VmExit {
    const { suberror, data, instructionBytes } = kvmRun.internalError();
    const meaning = INTERNAL_ERROR_MEANINGS[suberror] ?? 'an internal KVM error';
    const details = data.length ? ` Data: ${data.map((word) => hex(word)).join(', ')}.` : '';
    const bytes = instructionBytes?.length
      ? ` The instruction bytes: ${Array.from(instructionBytes, (b) => b.toString(16).padStart(2, '0')).join(' ')}.`
      : '';
    const hostLimit =
      suberror === kvm.KVM_INTERNAL_ERROR_EMULATION && existsSync(PVM_MODULE)
        ? ' This host\'s KVM is kvm_pvm (nested, without VMX), which cannot emulate some instructions on write-tracked pages (lock cmpxchg16b, xrstor) or an int3 in guest kernel mode: a limit of the host, not of the guest or tsvisor.'
        : '';
    return this.failure(`${meaning} (KVM_EXIT_INTERNAL_ERROR, suberror ${suberror}).${details}${bytes}${hostLimit}`);
  }

  private systemEvent(kvmRun: kvm.KvmRun): VmExit {
    const { type } = kvmRun.systemEvent();
    switch (type) {
      case kvm.KVM_SYSTEM_EVENT_SHUTDOWN:
        return { kind: 'power-off' };
      case kvm.KVM_SYSTEM_EVENT_RESET:
        return this.failure('The guest asked for a reset (KVM_SYSTEM_EVENT_RESET); tsvisor does not reboot guests, so the VM stops.');
      case kvm.KVM_SYSTEM_EVENT_CRASH:
        return this.failure('The guest reported a crash (KVM_SYSTEM_EVENT_CRASH).');
      default:
        return this.failure(`The guest raised system event ${type} (KVM_EXIT_SYSTEM_EVENT), which tsvisor does not handle.`);
    }
  }

  private failure(message: string): VmExit {
    return { kind: 'guest-failure', message, registers: this.registerDump() };
  }

  private registerDump(): string | undefined {
    try {
      const regs = this.vcpu.getRegs();
      const sregs = this.vcpu.getSregs();
      return formatRegisterDump(this.vcpu.id, regs, sregs, this.codeAtRip(instructionPointer(regs, sregs), pagingEnabled(sregs)));
    } catch (error) {
      return `(the registers could not be read: ${(error as Error).message})`;
    }
  }

  private codeAtRip(linear: bigint, paging: boolean): CodeBytes {
    let gpa = Number(linear);
    if (paging) {
      const translation = this.vcpu.translate(linear);
      if (!translation.valid) return { gpa: undefined, bytes: `(RIP ${hex(linear)} is not mapped by the guest's page tables)` };
      gpa = Number(translation.physicalAddress);
    }
    for (let length = INSTRUCTION_BYTES; length > 0; length--) {
      if (this.memory.contains(gpa, length)) return { gpa, bytes: this.memory.read(gpa, length) };
    }
    return { gpa, bytes: '(not in guest RAM)' };
  }
}
