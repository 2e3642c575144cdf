/**
 * What a QEMU command line asks of tsvisor, as plain typed data: the parse result of
 * parse-command-line.ts, from which to-config.ts makes a config document.
 */
import type { CpuFeatureSetting } from '../boot/cpu-features.js';
import type { FwCfgFileSpec } from '../config/vm-spec.js';

/** QEMU's PC machines, both tsvisor's PC: they differ here only in where RAM above the PCI hole starts. */
export type MachineType = 'pc' | 'q35';

/** A socket a character device listens on or connects to (QEMU's SocketAddress); a tcp host '' is every address. */
export type SocketAddress = { readonly kind: 'unix'; readonly path: string } | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

/** A character device backend (QEMU's -chardev, or -serial's short form), as plain data: src/chardev/ opens it. */
export type ChardevSpec =
  /** The terminal; `signal`: Ctrl-C and the other signal keys act on tsvisor (its ISIG stays on). */
  | { readonly backend: 'stdio'; readonly signal: boolean }
  | { readonly backend: 'null' }
  | { readonly backend: 'file'; readonly path: string; readonly append: boolean }
  /** PATH.in and PATH.out when both exist, else PATH both ways. */
  | { readonly backend: 'pipe'; readonly path: string }
  | { readonly backend: 'pty' }
  | { readonly backend: 'socket'; readonly address: SocketAddress; readonly server: boolean; readonly wait: boolean };

/** COM1's character device: its backend, its label (serial0, or the -chardev's id), and the option that made it, for errors. */
export interface SerialChardev {
  readonly spec: ChardevSpec;
  readonly label: string;
  /** "-serial pty", or "-chardev pty,id=c0" for -serial chardev:c0; undefined for the default. */
  readonly option: string | undefined;
  /** QEMU's -serial argument, which its second error line names ("could not connect serial device to character backend '...'"); undefined for a -chardev's. */
  readonly serialArgument: string | undefined;
  /** The terminal is shared with the human monitor (mon:stdio, a stdio -chardev with mux=on): Ctrl-A commands (src/chardev/mux.ts). */
  readonly mux?: boolean;
}

/** A character device a monitor talks through. */
export type MonitorChannel =
  | { readonly kind: 'socket'; readonly address: SocketAddress; readonly server: boolean; readonly wait: boolean }
  | { readonly kind: 'stdio' }
  /** The terminal COM1 has too, behind Ctrl-A c (mon:stdio, a stdio -chardev with mux=on). */
  | { readonly kind: 'mux' };

/** A monitor the command line asks for (-qmp, -monitor, -mon with -chardev, mon:stdio): QMP ("control") or the human monitor ("readline"), and its channel. */
export interface MonitorRequest {
  /** The option that asked for it, as written: "-qmp unix:/tmp/q.sock,server=on,wait=off". */
  readonly option: string;
  readonly mode: 'control' | 'readline';
  readonly pretty: boolean;
  readonly channel: MonitorChannel;
}

export interface DebugExitRequest {
  readonly option: string;
  readonly iobase: number;
  readonly iosize: number;
}

export interface QemuMachine {
  readonly machine: MachineType;
  /** RAM in bytes (-m, 128 MiB by default), rounded up to 8 KiB as QEMU rounds it. */
  readonly ramSize: number;
  /** The vCPUs the guest may start at boot (-smp cpus). */
  readonly cpus: number;
  /** Every vCPU (-smp maxcpus): those above cpus wait, off the APIC bus, to be plugged in. */
  readonly maxCpus: number;
  readonly cpuFeatures: readonly CpuFeatureSetting[];
  readonly kernel: string | undefined;
  readonly append: string | undefined;
  readonly initrd: string | undefined;
  readonly bios: string | undefined;
  /** COM1's output; QEMU's default is the terminal with -nographic and nowhere with -nodefaults or a display. */
  readonly serial: SerialChardev;
  readonly debugExits: readonly DebugExitRequest[];
  readonly pcTestdev: boolean;
  readonly fwCfgFiles: readonly { readonly option: string; readonly file: FwCfgFileSpec }[];
  readonly name: string | undefined;
  readonly uuid: string | undefined;
  readonly noReboot: boolean;
  readonly noShutdown: boolean;
  /** -S: the vCPUs wait for a monitor's `cont`. */
  readonly startPaused: boolean;
  readonly monitors: readonly MonitorRequest[];
  /** Each option as written, by what it sets, for naming it in errors: "memory" -> "-m 16". */
  readonly written: Readonly<Partial<Record<WrittenOption, string>>>;
}

export type WrittenOption = 'machine' | 'memory' | 'smp' | 'cpu' | 'kernel' | 'append' | 'initrd' | 'bios' | 'name';

export type QemuInvocation =
  | { readonly action: 'help' }
  | { readonly action: 'version' }
  /** -device help (or ?): the device list; -device <name>,help: its properties. */
  | { readonly action: 'device-help'; readonly device: string | undefined }
  | { readonly action: 'machine-help' }
  | { readonly action: 'run'; readonly machine: QemuMachine; readonly printConfig: boolean };
