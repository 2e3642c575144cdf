/**
 * tsvisor domxml-to-toml: a domain XML file as the AxVisor TOML config that makes the same
 * VmSpec (the document its QEMU command line makes), and a list of what the TOML cannot say:
 * where COM1 goes, the lifecycle actions, the vCPUs a guest may start, the monitors.
 */
import { configToml } from '../qemu/print-config.js';
import type { DomainConfig } from './domain-config.js';

export function domainToToml(config: DomainConfig): string {
  const { domain, machine } = config;
  const lost: string[] = [];
  if (domain.serial && domain.serial.type !== 'stdio') lost.push(`<serial type='${domain.serial.type}'>: a TOML config's COM1 goes to the terminal, or to a file with tsvisor run --serial FILE.`);
  const actions = { on_poweroff: domain.onPoweroff, on_reboot: domain.onReboot, on_crash: domain.onCrash };
  const kept = Object.entries(actions).filter(([, action]) => action !== 'destroy');
  if (kept.length > 0) lost.push(`${kept.map(([name, action]) => `<${name}>${action}`).join(', ')}: tsvisor run ends the VM when its guest powers off, resets or crashes (destroy).`);
  if (domain.vcpus.current !== domain.vcpus.maximum) lost.push(`<vcpu current='${domain.vcpus.current}'>: every vCPU of a TOML config may be started.`);
  if (machine.monitors.length > 0) lost.push(`${machine.monitors.map((monitor) => monitor.option).join(', ')}: give tsvisor run --qmp for QMP.`);
  if (domain.qemuEnv.length > 0) lost.push('<qemu:env>: set the variables in the shell that runs tsvisor.');
  if (domain.title !== undefined || domain.description !== undefined) lost.push('<title>, <description>: kept only as the comment above.');
  if (domain.maxMemory) lost.push('<maxMemory>: tsvisor has no memory hotplug.');
  const header = [
    `tsvisor's config for the libvirt domain ${config.file} (${domain.name}${domain.title ? `: ${domain.title}` : ''}).`,
    'Run it with: tsvisor run <this file>',
    ...(lost.length > 0 ? ['Not carried over:', ...lost.map((line) => `  - ${line}`)] : []),
  ];
  return configToml(config.document, header);
}
