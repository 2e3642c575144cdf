/**
 * A libvirt domain definition as plain data: what read-domain.ts makes of a domain XML file,
 * in libvirt's units (memory in KiB) with libvirt's defaults filled in, and what the
 * translations and dumpxml start from.
 */

/** What to do when the guest powers off, resets, or crashes (formatdomain, "Events configuration"). */
export type LifecycleAction = 'destroy' | 'restart' | 'preserve';

/** The guest's serial port (COM1), and where its bytes go: libvirt's character device types tsvisor has. */
export type DomainSerial =
  | { readonly type: 'pty' | 'stdio' | 'null' }
  | { readonly type: 'file'; readonly path: string; readonly append: boolean }
  | { readonly type: 'unix'; readonly path: string; readonly mode: 'bind' | 'connect' }
  | { readonly type: 'tcp'; readonly host: string; readonly service: string; readonly mode: 'bind' | 'connect' };

export interface DomainDefinition {
  readonly name: string;
  /** The UUID, lower case; generated when the file has none (`uuidGenerated`). */
  readonly uuid: string;
  readonly uuidGenerated: boolean;
  readonly title: string | undefined;
  readonly description: string | undefined;
  /** Boot RAM (<memory>), KiB. */
  readonly memoryKib: bigint;
  /** <currentMemory>, KiB: at most <memory> (libvirt clamps it). */
  readonly currentMemoryKib: bigint;
  /** <maxMemory slots>: accepted for the definition; tsvisor has no memory hotplug. */
  readonly maxMemory: { readonly kib: bigint; readonly slots: number } | undefined;
  readonly vcpus: {
    /** <vcpu>: every vCPU the VM has. */
    readonly maximum: number;
    /** current=: how many the guest may start; the others wait until setvcpus. */
    readonly current: number;
    readonly placement: 'static' | 'auto';
    /** cpuset=: the host CPUs every vCPU may run on, unless a <vcpupin> says otherwise. */
    readonly cpuset: readonly number[] | undefined;
  };
  /** <cputune><vcpupin vcpu cpuset>: one vCPU's host CPUs. */
  readonly vcpuPins: readonly { readonly vcpu: number; readonly cpus: readonly number[] }[];
  readonly os: {
    readonly machine: string | undefined;
    /** <loader>: the BIOS image. */
    readonly loader: string | undefined;
    readonly kernel: string | undefined;
    readonly initrd: string | undefined;
    readonly cmdline: string | undefined;
    /** <boot dev>, in order: kept for dumpxml; tsvisor boots the kernel directly. */
    readonly bootDevices: readonly string[];
    /** <bios useserial='yes'>: the firmware's output on the serial port. */
    readonly biosUseSerial: boolean | undefined;
    readonly bootMenu: boolean | undefined;
    readonly smbiosMode: string | undefined;
  };
  readonly features: { readonly acpi: boolean; readonly apic: boolean; readonly pae: boolean };
  readonly cpu: { readonly mode: string | undefined; readonly features: readonly { readonly name: string; readonly policy: string }[] };
  readonly clock: { readonly offset: string; readonly timers: readonly { readonly name: string; readonly present: boolean | undefined; readonly tickpolicy: string | undefined }[] };
  readonly onPoweroff: LifecycleAction;
  readonly onReboot: LifecycleAction;
  readonly onCrash: LifecycleAction;
  readonly serial: DomainSerial | undefined;
  /** <memballoon model>: "none", or a model tsvisor warns it does not have. */
  readonly memballoon: string | undefined;
  readonly emulator: string | undefined;
  /** <qemu:commandline>: arguments for the QEMU option parser, and the VM's environment. */
  readonly qemuArgs: readonly string[];
  readonly qemuEnv: readonly { readonly name: string; readonly value: string }[];
  /** Things said once to the user: accepted, but not acted on. */
  readonly notes: readonly string[];
}
