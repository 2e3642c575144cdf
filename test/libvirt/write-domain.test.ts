/**
 * dumpxml's text: a domain read and written back is what `virsh -c test:///default dumpxml`
 * prints for it (the test driver's type and UUID aside, and without <qemu:commandline>, which
 * only libvirt's QEMU driver keeps), and it validates against libvirt's schema.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDomain } from '../../src/libvirt/read-domain.js';
import { writeDomain } from '../../src/libvirt/write-domain.js';
import { REPO } from '../helpers/tsvisor.js';
import { describeWithSchema, describeWithVirsh, schemaErrors, virshDefine } from './virsh-oracle.js';

const FULL = `<domain type='kvm'>
  <name>full</name>
  <uuid>75843210-08fe-4ca7-bfd1-5782703dc40a</uuid>
  <title>T &amp; x</title>
  <description>D</description>
  <maxMemory slots='4' unit='MiB'>64</maxMemory>
  <memory unit='MiB'>16</memory>
  <currentMemory unit='MiB'>8</currentMemory>
  <vcpu placement='static' cpuset='0' current='1'>2</vcpu>
  <cputune><vcpupin vcpu='0' cpuset='0'/></cputune>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <loader readonly='yes' type='rom'>/bios.bin</loader>
    <kernel>/k.elf</kernel>
    <initrd>/i.img</initrd>
    <cmdline>console=ttyS0</cmdline>
    <boot dev='hd'/>
    <bootmenu enable='no'/>
    <bios useserial='yes'/>
    <smbios mode='emulate'/>
  </os>
  <features><acpi/><apic/></features>
  <cpu mode='host-passthrough'><feature policy='disable' name='x2apic'/></cpu>
  <clock offset='utc'><timer name='pit' tickpolicy='delay'/><timer name='hpet' present='yes'/></clock>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>preserve</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='unix'><source mode='bind' path='/tmp/s.sock'/><target port='0'/></serial>
    <console type='unix'><source mode='bind' path='/tmp/s.sock'/><target type='serial' port='0'/></console>
    <memballoon model='none'/>
  </devices>
</domain>
`;

describeWithVirsh('writeDomain against virsh dumpxml', () => {
  it('writes a domain back as libvirt does', () => {
    const ours = writeDomain(readDomain(FULL, 'full.xml'));
    const { dumped } = virshDefine(FULL.replace("type='kvm'", "type='test'"), 'full');
    expect(ours).toBe(dumped.replace("<domain type='test'>", "<domain type='kvm'>").replace(/\n+$/, '\n'));
  });
});

describeWithSchema('writeDomain against libvirt\'s schema', () => {
  it('writes XML that validates, a running domain\'s and one with <qemu:commandline> too', () => {
    const definition = readDomain(FULL.replace('</devices>', "</devices><qemu:commandline><qemu:arg value='-S'/><qemu:env name='A' value='1'/></qemu:commandline>").replace("<domain type='kvm'>", "<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>"), 'full.xml');
    expect(schemaErrors(writeDomain(definition))).toBe('');
    expect(schemaErrors(writeDomain(definition, { id: 3, currentVcpus: 2 }))).toBe('');
  });
});

describe('writeDomain', () => {
  it("marks a running domain with its id and its vCPUs' current count", () => {
    const text = writeDomain(readDomain(FULL, 'full.xml'), { id: 7, currentVcpus: 2 });
    expect(text).toMatch(/^<domain type='kvm' id='7'>\n/);
    expect(text).toContain("<vcpu placement='static' cpuset='0'>2</vcpu>");
  });
});

describeWithSchema('the sample domains against libvirt\'s schema', () => {
  const samples = readdirSync(join(REPO, 'configs')).filter((name) => name.endsWith('.xml'));
  it.each(samples)('%s validates, its relative paths made absolute (libvirt wants them so; tsvisor takes them relative to the file)', (name) => {
    const text = readFileSync(join(REPO, 'configs', name), 'utf8').replaceAll('>../guests/build/', `>${REPO}/guests/build/`);
    expect(schemaErrors(text)).toBe('');
    expect(schemaErrors(writeDomain(readDomain(text, name)))).toBe('');
  });
});
