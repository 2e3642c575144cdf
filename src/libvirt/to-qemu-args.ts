/**
 * A domain definition as the QEMU command line libvirt would give QEMU for it (the options
 * libvirt's QEMU driver passes for each element), followed by the <qemu:arg> values: tsvisor's
 * QEMU option parser then makes the machine of it, as for `tsvisor qemu`, so that the three
 * front ends share one path to a VmSpec. What QEMU has no option for (vCPU pinning, the
 * vCPUs a guest may start) is added to the config document afterwards (domain-config.ts).
 */
import type { DomainDefinition, DomainSerial } from './domain.js';

export function qemuArgsOf(domain: DomainDefinition): string[] {
  const args = ['-nodefaults', '-display', 'none', '-accel', 'kvm'];
  args.push('-name', `guest=${domain.name.replace(/,/g, ',,')}`, '-uuid', domain.uuid);
  if (domain.os.machine !== undefined) args.push('-machine', domain.os.machine);
  args.push('-m', `${domain.memoryKib}k`);
  // As libvirt: <vcpu current='1'>2</vcpu> is -smp 1,maxcpus=2.
  const { current, maximum } = domain.vcpus;
  args.push('-smp', current === maximum ? String(maximum) : `${current},maxcpus=${maximum}`);
  const cpu = cpuOption(domain);
  if (cpu !== undefined) args.push('-cpu', cpu);
  if (domain.os.loader !== undefined) args.push('-bios', domain.os.loader);
  if (domain.os.kernel !== undefined) args.push('-kernel', domain.os.kernel);
  if (domain.os.initrd !== undefined) args.push('-initrd', domain.os.initrd);
  if (domain.os.cmdline !== undefined) args.push('-append', domain.os.cmdline);
  args.push('-serial', serialOption(domain.serial));
  // libvirt's lifecycle actions as QEMU's: a reset that destroys ends QEMU (-no-reboot), a power-off that preserves keeps it (-no-shutdown).
  if (domain.onReboot === 'destroy') args.push('-no-reboot');
  if (domain.onPoweroff === 'preserve') args.push('-no-shutdown');
  return [...args, ...domain.qemuArgs];
}

/** -cpu host (or max) with the features' policies: require and force add, disable and forbid remove, optional leaves it to the host. */
function cpuOption(domain: DomainDefinition): string | undefined {
  const { mode, features } = domain.cpu;
  if (mode === undefined && features.length === 0) return undefined;
  const changes = features.flatMap(({ name, policy }) => (policy === 'require' || policy === 'force' ? [`+${name}`] : policy === 'optional' ? [] : [`-${name}`]));
  return [mode === 'maximum' ? 'max' : 'host', ...changes].join(',');
}

/** libvirt's serial types as QEMU's -serial backends; no serial device is no serial output, as libvirt's -nodefaults. */
function serialOption(serial: DomainSerial | undefined): string {
  if (serial === undefined) return 'null';
  switch (serial.type) {
    case 'pty':
    case 'stdio':
    case 'null':
      return serial.type;
    case 'file':
      return `file:${serial.path}`;
    case 'unix':
      return `unix:${serial.path}${serial.mode === 'bind' ? ',server=on,wait=off' : ''}`;
    case 'tcp':
      return `tcp:${serial.host}:${serial.service}${serial.mode === 'bind' ? ',server=on,wait=off' : ''}`;
  }
}
