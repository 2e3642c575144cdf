/**
 * Reading domain XML: libvirt's units, defaults and errors (compared with `virsh -c
 * test:///default` where it answers), and tsvisor's refusals, each naming the element with its
 * line and column.
 */
import { describe, expect, it } from 'vitest';
import { formatCpuset, parseCpuset } from '../../src/libvirt/cpuset.js';
import { readDomain } from '../../src/libvirt/read-domain.js';
import { scaledKibibytes } from '../../src/libvirt/units.js';
import { describeWithVirsh, virshDefine } from './virsh-oracle.js';

const domain = (inside: string, type = 'kvm') => `<domain type='${type}'>\n  <name>t</name>\n${inside}\n</domain>\n`;
const bootable = "<os><type>hvm</type><kernel>/k.elf</kernel></os>";
const read = (inside: string) => readDomain(domain(inside), 'd.xml');
const fails = (inside: string) => {
  try {
    read(inside);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected an error');
};

/** virsh's KiB for 1500 of each unit (virsh -c test:///default define, then dumpxml). */
const VIRSH_KIB: Record<string, bigint> = {
  b: 2n, bytes: 2n, KB: 1465n, k: 1500n, KiB: 1500n, MB: 1464844n, M: 1536000n, MiB: 1536000n,
  GB: 1464843750n, G: 1572864000n, GiB: 1572864000n, TB: 1464843750000n, T: 1610612736000n, TiB: 1610612736000n,
};

describe('libvirt units', () => {
  it.each(Object.entries(VIRSH_KIB))('1500 %s is %s KiB, rounded up as libvirt rounds', (unit, kib) => {
    expect(scaledKibibytes('1500', unit, 2n ** 64n - 1n)).toBe(kib);
  });

  it('takes KiB when there is no unit, and refuses what libvirt refuses in its words', () => {
    expect(scaledKibibytes('64', undefined, 2n ** 64n - 1n)).toBe(64n);
    expect(() => scaledKibibytes('1500', 'XB', 2n ** 64n - 1n)).toThrow("unknown suffix 'XB'");
    expect(() => scaledKibibytes('-5', undefined, 2n ** 64n - 1n)).toThrow("Invalid value '-5'");
    expect(() => scaledKibibytes('100', 'EiB', 2n ** 64n - 1n)).toThrow('numerical overflow: value too large: 100EiB');
  });
});

describeWithVirsh('libvirt units, live against virsh -c test:///default', () => {
  it('gives the KiB virsh gives, unit by unit', () => {
    for (const [unit, kib] of Object.entries(VIRSH_KIB)) {
      const name = `units${unit}`;
      const { dumped } = virshDefine(`<domain type='test'><name>${name}</name><memory unit='${unit}'>1500</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`, name);
      expect(dumped, unit).toContain(`<memory unit='KiB'>${kib}</memory>`);
    }
  });

  it("refuses as virsh does: an unknown unit, current above the maximum, a bad cpuset", () => {
    const cases: [string, string][] = [
      ["<memory unit='XB'>1500</memory><vcpu>1</vcpu>", "unknown suffix 'XB'"],
      ["<memory>1024</memory><vcpu current='3'>2</vcpu>", 'maximum vCPU count must not be less than current vCPU count'],
      ["<memory>1024</memory><vcpu cpuset='4-1'>2</vcpu>", "Failed to parse bitmap '4-1'"],
      ["<vcpu>1</vcpu>", 'Memory size must be specified via <memory> or in the <numa> configuration'],
    ];
    for (const [inside, words] of cases) {
      expect(virshDefine(`<domain type='test'><name>bad</name>${inside}<os><type>hvm</type></os></domain>`, 'bad').errors).toContain(words);
      expect(fails(`${inside}${bootable}`)).toContain(words);
    }
  });

  it('clamps currentMemory to memory and fills in the lifecycle defaults as virsh does', () => {
    const { dumped } = virshDefine("<domain type='test'><name>clamp</name><memory>1024</memory><currentMemory>4096</currentMemory><vcpu>1</vcpu><os><type>hvm</type></os></domain>", 'clamp');
    expect(dumped).toContain("<currentMemory unit='KiB'>1024</currentMemory>");
    expect(dumped).toMatch(/<on_poweroff>destroy<\/on_poweroff>\s*<on_reboot>restart<\/on_reboot>\s*<on_crash>destroy<\/on_crash>/);
    const ours = read(`<memory>1024</memory><currentMemory>4096</currentMemory>${bootable}`);
    expect([ours.currentMemoryKib, ours.onPoweroff, ours.onReboot, ours.onCrash]).toEqual([1024n, 'destroy', 'restart', 'destroy']);
  });

  it("writes a cpuset back in libvirt's shortest form", () => {
    expect(virshDefine("<domain type='test'><name>cpus</name><memory>1024</memory><vcpu cpuset='1-4,^3,6'>2</vcpu><os><type>hvm</type></os></domain>", 'cpus').dumped).toContain("cpuset='1-2,4,6'");
    expect(formatCpuset(parseCpuset('1-4,^3,6'))).toBe('1-2,4,6');
  });
});

describe('readDomain', () => {
  it('reads the elements it maps, with their defaults', () => {
    const definition = read(`<uuid>3F77875D-01E7-40F8-AB59-1DE2A9F47943</uuid><title>T</title><memory unit='MiB'>16</memory><vcpu current='1'>2</vcpu>${bootable}<features><acpi/><apic/></features>`);
    expect(definition).toMatchObject({
      name: 't', uuid: '3f77875d-01e7-40f8-ab59-1de2a9f47943', uuidGenerated: false, title: 'T', memoryKib: 16384n, currentMemoryKib: 16384n,
      vcpus: { maximum: 2, current: 1, placement: 'static', cpuset: undefined }, features: { acpi: true, apic: true, pae: false },
      os: { kernel: '/k.elf', bootDevices: [] }, serial: undefined, qemuArgs: [],
    });
    expect(read(`<memory>1024</memory>${bootable}`).uuidGenerated).toBe(true);
  });

  it('takes a console of target type serial as that same serial port, and refuses a second port', () => {
    const port = "<serial type='pty'><target port='0'/></serial><console type='pty'><target type='serial' port='0'/></console>";
    expect(read(`<memory>1024</memory>${bootable}<devices>${port}</devices>`).serial).toEqual({ type: 'pty' });
    expect(fails(`<memory>1024</memory>${bootable}<devices><serial type='pty'/><serial type='file'><source path='/tmp/x'/></serial></devices>`)).toMatch(/^d\.xml:3:\d+: <serial>: tsvisor has one serial port, COM1/);
  });

  it('refuses unknown elements and attributes by name, with their line and column', () => {
    expect(fails(`<memory>1024</memory>${bootable}\n  <devices>\n    <disk type='file'/>\n  </devices>`)).toBe(
      'd.xml:5:5: <disk>: tsvisor does not support this element inside <devices>: tsvisor has COM1 (<serial>/<console>), and no disks, network or display.',
    );
    expect(fails(`<memory frobnicate='1'>1024</memory>${bootable}`)).toMatch(/^d\.xml:3:1: <memory frobnicate='1'>: the attribute frobnicate is not one tsvisor takes here/);
  });

  it('refuses UEFI (nvram, an OVMF or pflash loader) and non-KVM domains, saying what to do instead', () => {
    expect(fails("<memory>1024</memory><os><type>hvm</type><loader>/usr/share/OVMF/OVMF_CODE.fd</loader></os>")).toContain('this is UEFI firmware (OVMF), and tsvisor has no UEFI');
    expect(fails("<memory>1024</memory><os><type>hvm</type><nvram>/var/x.fd</nvram><kernel>/k</kernel></os>")).toContain('tsvisor has no UEFI firmware');
    expect(() => readDomain(domain(`<memory>1024</memory>${bootable}`, 'xen'), 'd.xml')).toThrow("d.xml:1:1: <domain type='xen'>: tsvisor runs domains of type 'kvm'");
  });

  it('refuses a cpuset naming a CPU this host lacks, and a vcpupin beyond the vCPUs', () => {
    expect(fails(`<memory>1024</memory><vcpu cpuset='9999'>1</vcpu>${bootable}`)).toMatch(/<vcpu cpuset='9999'>: this host has CPUs 0 to \d+, and no CPU 9999/);
    expect(fails(`<memory>1024</memory><vcpu>1</vcpu><cputune><vcpupin vcpu='1' cpuset='0'/></cputune>${bootable}`)).toContain("<vcpupin vcpu='1'>: the domain has 1 vCPU (0 to 0)");
  });

  it('reports XML that is not well-formed with its position', () => {
    expect(() => readDomain("<domain type='kvm'>\n<name>x</name>\n<memory>1</memory></domian>", 'd.xml')).toThrow(/^d\.xml:3:\d+: .*: the file is not well-formed XML/);
  });

  it('keeps <qemu:commandline> arguments and environment in order', () => {
    const xml = `<domain type='kvm' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>q</name><memory>1024</memory>${bootable}<qemu:commandline><qemu:arg value='-qmp'/><qemu:arg value='tcp:localhost:4444,server,nowait'/><qemu:env name='A' value='1'/></qemu:commandline></domain>`;
    expect(readDomain(xml, 'd.xml')).toMatchObject({ qemuArgs: ['-qmp', 'tcp:localhost:4444,server,nowait'], qemuEnv: [{ name: 'A', value: '1' }] });
  });
});
