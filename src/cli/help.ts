/** Help texts. */

export const GENERAL_HELP = `tsvisor: an x86_64 hypervisor runtime in TypeScript on Linux KVM

Usage:
  tsvisor run <config> [options]        boot the VM a config describes: AxVisor-style TOML, or
                                        a libvirt domain XML file (recognised by content)
  tsvisor check <config> [--json]       validate a config and print the machine it describes
  tsvisor qemu <QEMU options>           boot what a qemu-system-x86_64 command line describes
                                        (also the tsvisor-qemu command; tsvisor qemu -h)
  tsvisor qmp <socket> <command> [args] send one QMP command to a running VM
  tsvisor domain <socket> <operation>   libvirt's domain operations on a running VM (dominfo,
                                        dumpxml, suspend, resume, reset, shutdown, destroy,
                                        setvcpus, setmem)
  tsvisor domxml-to-toml <domain.xml>   a libvirt domain as an AxVisor TOML config
  tsvisor domxml-from-toml <config.toml> a TOML config as a libvirt domain
  tsvisor bench [--quick]               measure VM exit cost and start-up against references
  tsvisor --help                        this text (tsvisor run --help for the run options)
  tsvisor --version                     the version

Example:
  tsvisor run configs/hello-x86_64.toml

Exit status:
  0          the guest powered off (a 16-bit write of 0x2000 to I/O port 0x604)
  odd        the guest wrote a value v to the debug-exit port 0xf4: (v << 1) | 1
  2          bad input: usage, config, image, or no access to /dev/kvm
  4          the guest crashed or stopped without choosing a status (a register dump follows)
  70         an internal error in tsvisor
  74         stdout or stderr could not be written (a full disk, a closed pipe)
`;

export const RUN_HELP = `Usage: tsvisor run <config> [options]

Boots the VM that a config describes (an AxVisor VM config in TOML: [base], [kernel],
[devices]; or a libvirt domain XML file, told apart by content: README, "Coming from
libvirt"), with the guest's serial console (COM1, I/O port 0x3f8) on this terminal, and
exits with the status the guest chooses (see tsvisor --help). Each vCPU runs on its own
thread. Ctrl-C (SIGINT) and SIGTERM stop the VM cleanly, with status 130 and 143, and say
where each vCPU was. On a terminal the console is QEMU's: keys go to the guest as typed,
Ctrl-A x ends the run (status 0), Ctrl-A c switches to the human monitor (info registers,
stop, cont, system_reset, quit, help) and back, Ctrl-A h lists these.

Options:
  --serial <file>        write the guest's serial output to <file> instead of the terminal
  --trace-unassigned     print every guest access to an I/O port or MMIO address that no
                         device owns (such accesses read as all ones and are counted)
  --stats                at exit, print the exits per vCPU and reason and the accesses per
                         device, with the time spent handling each, and any coalesced or
                         undelivered interrupts
  --qmp <endpoint>       a QMP monitor (QEMU's machine protocol; docs/qmp.md), in QEMU's -qmp
                         syntax: unix:PATH or tcp:[HOST]:PORT, then ,server=on to listen (else
                         tsvisor connects to a listening client) and ,wait=off not to wait for
                         a client before the guest starts (the legacy ,server,nowait works too).
                         quit ends tsvisor with status 0
  -h, --help             this text
`;

export const QMP_HELP = `Usage: tsvisor qmp <socket> <command> [json-arguments] [--events]

Connects to a QMP server (tsvisor run --qmp ...,server=on, or QEMU's -qmp), negotiates,
runs one command and prints its reply's "return" as JSON. <socket> is a unix socket's path
(or unix:PATH), or tcp:HOST:PORT. The arguments are one JSON object.

Examples:
  tsvisor qmp /tmp/vm.sock query-status
  tsvisor qmp /tmp/vm.sock human-monitor-command '{"command-line": "info cpus"}'

Options:
  --events     also print the events that arrive before the reply, a JSON line each
  -h, --help   this text

Exit status: 0 when the command succeeded, 1 when the server answered with an error
(printed as \`tsvisor qmp: <class>: <desc>\`), 2 for bad input or no server there.
`;

export const BENCH_HELP = `Usage: tsvisor bench [--quick] [--install-peers]

Measures what each kind of VM exit costs, in one run on this machine, interleaving tsvisor,
the C floor and QEMU round after round so that drift hits all alike:
  - the bench guest (guests/bench, one multiboot ELF for all three) times, in TSC cycles,
    \`out\` and \`in\` to a port and 32-bit MMIO writes and reads that tsvisor handles in
    TypeScript, \`cpuid\` (handled inside KVM: the floor), an EOI, a self-IPI, and HLT woken
    by the LAPIC timer; under tsvisor, under bench/build/mb-floor (the thinnest C exit loop
    on /dev/kvm, built by npm install; port and MMIO operations and cpuid only) and under
    qemu-system-x86_64 with KVM when it is installed;
  - boot: process start to the guest's first byte and to its exit, for tsvisor (the hello
    guest and the bench guest), QEMU (the bench guest) and a bare \`node -e 0\`; and the
    peak RSS of tsvisor and QEMU for a 1-vCPU, 16 MiB guest;
  - kicks and wakes of a vCPU from the main thread, and the irq-bench guest's LAPIC timer
    lateness and IPI latency (median and p99);
  - micro-benchmarks of the hot TypeScript paths (benchmark.js).
Prints a table, and writes bench/results/<date>.json and an HTML report with a chart per
operation beside it.

Options:
  --quick          fewer iterations and rounds (under a minute)
  --install-peers  apt-get qemu-system-x86 first when QEMU is missing (as root)
  -h, --help       this text
`;

export const CHECK_HELP = `Usage: tsvisor check <config> [--json]

Validates a config (an AxVisor VM config in TOML, or a libvirt domain XML file, told apart
by content) without starting a VM, exactly as tsvisor run does before it touches KVM, and prints the machine it describes: base information, the memory map,
the images with their load ranges, the devices with their ranges and interrupts, the boot
plan, and any warnings.

Options:
  --json       print the same as JSON (an invalid config gives {"valid": false, "error": ...})
  -h, --help   this text

Exit status: 0 when the config is valid, 1 when it is not, 2 on a usage error, 74 when stdout or
stderr cannot be written.
`;

export const DOMXML_HELP = `Usage: tsvisor domxml-to-toml <domain.xml>
       tsvisor domxml-from-toml <config.toml>

Translates between libvirt domain XML and AxVisor TOML, printing the result on stdout. Both
sides make the same VM where both formats can say it; what does not carry over is listed
(as comments atop the TOML; on stderr for the XML). See README.md, "Coming from libvirt".

Options:
  -h, --help   this text
`;

export const DOMAIN_HELP = `Usage: tsvisor domain <socket> <operation> [value] [options]

libvirt's domain operations, with virsh's words and exit statuses, on a tsvisor VM that serves
QMP on <socket> (tsvisor run --qmp ..., or -qmp in a domain's <qemu:commandline>; a path,
unix:PATH or tcp:HOST:PORT). A VM not started from domain XML answers as the domain its config
translates to (tsvisor domxml-from-toml).

Operations:
  dominfo                 the domain's id, name, UUID, state, vCPUs, CPU time and memory
  dumpxml [--inactive]    the live definition (with its id and current values), or the stored one
  suspend | resume        pause and continue the vCPUs
  reset                   reset the machine
  shutdown                press the power button (the guest decides)
  destroy                 end the VM at once
  setvcpus COUNT          how many vCPUs the guest may start: --live (the default) plugs vCPUs in
                          or out of the running VM (one the guest runs is never taken away);
                          --config changes the stored definition; --maximum --config its maximum
  setmem SIZE             the memory the guest has (KiB, or with a unit: 16M): --config changes
                          the stored definition; --live needs a balloon, which tsvisor has not

Options:
  --live, --config, --maximum, --inactive   as above
  -h, --help                                this text

Exit status: 0 when the operation was done, 1 when it failed (error: ... on stderr), 2 on a
usage error.
`;
