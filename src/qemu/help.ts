/** tsvisor qemu -h: QEMU's version line first (harnesses parse it), then what tsvisor takes. */
import { tsvisorVersion } from '../cli/version.js';

/** The QEMU tsvisor answers as, and its own version. */
export function versionLine(): string {
  return `QEMU emulator version 7.2.0 (tsvisor ${tsvisorVersion()})`;
}

export function qemuHelp(): string {
  return `${versionLine()}
usage: tsvisor-qemu [options]        (or: tsvisor qemu [options])

Boots a kernel as qemu-system-x86_64 -kernel would, on tsvisor's PC under KVM: the same
command line, the guest's COM1 where -serial says, and QEMU's exit statuses.

Machine:
  -machine|-M pc|q35[,accel=kvm]   QEMU's PC machines, both tsvisor's PC (pc-i440fx-7.2 and
                                   pc-q35-7.2 too); -machine help lists them
  -accel kvm, -enable-kvm          KVM (tsvisor's only accelerator; other ones are refused)
  -cpu host|max[,+feat,-feat,feat=on|off]
                                   the host CPU as KVM offers it; features by QEMU's names
  -m [size=]SIZE[,slots=N,maxmem=SIZE]
                                   RAM (default 128M; MiB without a suffix; k M G T P E)
  -smp [cpus=]N[,maxcpus=,sockets=,dies=,cores=,threads=]
                                   vCPUs (at most 255), counted as QEMU 7.2 counts them; those
                                   above N wait, unplugged, until plugged in (setvcpus)
Boot:
  -kernel FILE                     a multiboot (ELF32 or a.out kludge), ELF64, ELF32 or flat
                                   kernel; a flat one loads and starts at 0x8000 in real mode
  -append CMDLINE                  the kernel command line (multiboot)
  -initrd "FILE [ARGS],FILE [ARGS]"
                                   multiboot modules, each with its string (",," for a comma)
  -bios FILE                       an AxVisor-style BIOS: loaded and started at 0x8000 in real
                                   mode, the kernel as it is at 0x200000 (not SeaBIOS or OVMF)
Devices:
  -device isa-debug-exit[,iobase=0x501,iosize=2]
                                   a write of v ends tsvisor with status (v << 1) | 1
  -device pc-testdev               QEMU's test device (ports 0xe0-0xeb, 0x2000-0x2017, MMIO
                                   0xff000000)
  -device help                     the devices, in QEMU's format
  -global isa-debug-exit.iobase=N, -global isa-debug-exit.iosize=N
  -fw_cfg [name=]NAME,string=TEXT|file=FILE
                                   a file in fw_cfg's directory
Console and display:
  -serial stdio|mon:stdio|null|file:PATH|pipe:PATH|pty|chardev:ID
  -serial unix:PATH|tcp:[HOST]:PORT[,server=on|off][,wait=on|off]
                                   COM1's character device (default: mon:stdio with
                                   -nographic, nowhere with -nodefaults or without -nographic);
                                   mon:stdio shares the terminal with the monitor: Ctrl-A h
                                   helps, Ctrl-A c switches, Ctrl-A x quits
  -chardev BACKEND,id=ID[,...]     file (path=, append=), null, pipe (path=), pty,
                                   stdio (signal=, mux=), socket (path= | host=,port=; server=, wait=)
  -nographic, -display none, -nodefaults
Control:
  -no-reboot                       a guest reset (triple fault) ends with status 0, as QEMU;
                                   without it the guest boots again
  -no-shutdown                     a power-off stops the guest (status "shutdown") until
                                   system_reset, quit or a signal
  -S                               start with the vCPUs stopped, until a monitor's cont
  -name NAME, -uuid UUID           the VM's name; a UUID (checked, not shown to the guest)
  -qmp, -mon mode=control          QMP on a socket (unix:PATH, tcp:HOST:PORT, server=on|off,
                                   wait=on|off, or server,nowait): see docs/qmp.md
  -monitor stdio|unix:PATH|tcp:HOST:PORT[,...], -mon chardev=ID
                                   the human monitor: info status|cpus|registers|version,
                                   stop, cont, system_reset, system_powerdown, quit, help
tsvisor's own:
  --print-config                   print the equivalent tsvisor (AxVisor-style TOML) config
                                   instead of running: tsvisor check and run take it
  -version, -h|-help

Exit status: 0 when the guest powers off (or resets, with -no-reboot), (v << 1) | 1 when it
writes v to an isa-debug-exit, 1 for any error; messages are QEMU's, prefixed tsvisor-qemu:.
`;
}
