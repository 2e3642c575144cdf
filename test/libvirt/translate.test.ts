/**
 * domxml-to-toml and domxml-from-toml: a domain's TOML makes the domain's VmSpec; every
 * shipped TOML config becomes a domain that validates against libvirt's schema, with what does
 * not carry over listed.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import type { VmSpec } from '../../src/config/vm-spec.js';
import { loadDomainConfig } from '../../src/libvirt/domain-config.js';
import { domainToToml } from '../../src/libvirt/domxml-to-toml.js';
import { tomlToDomain } from '../../src/libvirt/domxml-from-toml.js';
import { REPO } from '../helpers/tsvisor.js';
import { describeWithSchema, schemaErrors } from './virsh-oracle.js';

const folder = mkdtempSync(join(tmpdir(), 'domxml-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));
/** The shipped TOML configs that load here (arceos-x86_64.toml needs AxVisor's BIOS, which the user provides). */
const TOML_CONFIGS = readdirSync(join(REPO, 'configs')).filter((name) => name.endsWith('.toml') && loads(join(REPO, 'configs', name)));
const XML_CONFIGS = readdirSync(join(REPO, 'configs')).filter((name) => name.endsWith('.xml'));

function loads(path: string): boolean {
  try {
    loadVmConfig(path);
    return true;
  } catch {
    return false;
  }
}

/** What makes two VMs the same machine: RAM, images, boot, devices, vCPUs. */
const machineOf = (spec: VmSpec) => ({
  cpus: spec.cpuCount,
  memory: spec.memoryRegions.map(({ gpa, size, mapType, readOnly }) => ({ gpa, size, mapType, readOnly })),
  images: spec.images.map(({ role, source, segments }) => ({ role, source, segments })),
  boot: spec.boot,
  devices: spec.devices.map(({ kind, base, length, irq }) => ({ kind, base, length, irq })).sort((a, b) => `${a.kind}${a.base}`.localeCompare(`${b.kind}${b.base}`)),
  affinity: spec.vcpuAffinity,
});

describe('domxml-to-toml', () => {
  it.each(XML_CONFIGS)('%s: the TOML makes the same machine as the domain', (name) => {
    const domain = loadDomainConfig(join(REPO, 'configs', name));
    const toml = join(folder, name.replace(/\.xml$/, '.toml'));
    writeFileSync(toml, domainToToml(domain));
    expect(machineOf(loadVmConfig(toml))).toEqual(machineOf(domain.spec));
  });

  it('lists what the TOML cannot say', () => {
    const domain = loadDomainConfig(join(REPO, 'configs', 'hello-x86_64.xml'));
    const text = domainToToml({ ...domain, domain: { ...domain.domain, onReboot: 'restart', serial: { type: 'pty' }, qemuEnv: [{ name: 'A', value: '1' }] } });
    expect(text).toContain("#   - <serial type='pty'>: a TOML config's COM1 goes to the terminal");
    expect(text).toContain('#   - <on_reboot>restart: tsvisor run ends the VM when its guest powers off, resets or crashes (destroy).');
    expect(text).toContain('#   - <qemu:env>: set the variables in the shell that runs tsvisor.');
  });
});

describe('domxml-from-toml', () => {
  it.each(TOML_CONFIGS)('%s: the domain makes the same machine, or says how it differs', (name) => {
    const spec = loadVmConfig(join(REPO, 'configs', name));
    const { xml, lost } = tomlToDomain(spec);
    const file = join(folder, name.replace(/\.toml$/, '.xml'));
    writeFileSync(file, xml);
    if (lost.length === 0) expect(machineOf(loadDomainConfig(file).spec)).toEqual(machineOf(spec));
    else for (const line of lost) expect(line).toMatch(/^(the memory map|where the images load|how vCPU 0 starts|devices the domain's PC does not have|the domain's PC also has|.* at 0x[0-9a-f]+: the config gives it|base\.phys_cpu_ids|the domain cannot be run)/);
  });

  it('carries a flat 16 MiB guest over with nothing lost but the PC devices the domain adds', () => {
    const { lost } = tomlToDomain(loadVmConfig(join(REPO, 'configs', 'hello-x86_64.toml')));
    expect(lost).toEqual(["the domain's PC also has: IO APIC at 0xfec00000, HPET at 0xfed00000."]);
  });
});

describeWithSchema('domxml-from-toml against libvirt\'s schema', () => {
  it.each(TOML_CONFIGS)('%s: the domain validates', (name) => {
    expect(schemaErrors(tomlToDomain(loadVmConfig(join(REPO, 'configs', name))).xml)).toBe('');
  });
});
