/** Valid configs and what they resolve to: the hello config, the full schema, warnings, the old flat format, image locations. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadVmConfig } from '../../src/config/load-config.js';
import { hasPlatformTimers } from '../../src/vmm/platform.js';
import { HOST, VALID, configFile, errorOf, folder, load } from './fixtures.js';

const REPO = resolve(import.meta.dirname, '../..');

describe('a valid config', () => {
  it('resolves the hello config into a VmSpec', () => {
    const spec = loadVmConfig(join(REPO, 'configs/hello-x86_64.toml'), HOST);
    expect(spec).toMatchObject({
      configPath: join(REPO, 'configs/hello-x86_64.toml'),
      id: 1,
      name: 'hello',
      vmType: 1,
      cpuCount: 1,
      vcpuAffinity: undefined,
      memoryRegions: [{ keyPath: 'kernel.memory_regions[0]', gpa: 0, size: 0x100_0000, flags: 0x7, mapType: 'alloc', readOnly: false }],
      images: [{ role: 'kernel', keyPath: 'kernel.kernel_path', addressKey: 'kernel.kernel_load_addr', source: { kind: 'host', path: join(REPO, 'guests/build/hello.bin') } }],
      boot: { method: 'direct', firmware: 'none', kernelFormat: 'flat', cpuMode: 'real', entryPoint: 0x8000, kernelEntry: 0x8000, cmdline: '', multibootInfo: undefined, bootTables: undefined },
      interruptMode: 'emulated',
      kvmRealModeArea: 0xfffbc000,
      warnings: [],
    });
    expect(spec.devices.map((device) => [device.kind, device.base, device.origin])).toEqual([
      ['uart-16550', 0x3f8, 'platform'],
      ['debug-exit', 0xf4, 'platform'],
      ['acpi-pm1-control', 0x604, 'platform'],
      ['fw-cfg', 0x510, 'platform'],
      ['pit', 0x40, 'platform'],
      ['system-control-port-b', 0x61, 'platform'],
      ['pic-master', 0x20, 'platform'],
      ['pic-slave', 0xa0, 'platform'],
      ['elcr', 0x4d0, 'platform'],
      ['local-apic', 0xfee00000, 'platform'],
    ]);
    expect(spec.images[0]?.segments).toEqual([{ gpa: 0x8000, offset: 0, fileSize: spec.images[0]?.size, memSize: spec.images[0]?.size }]);
  });

  it('reads every key of the schema', () => {
    const spec = load(`[base]
id = 0x10
name = "full"
vm_type = 2
cpu_num = 2
phys_cpu_ids = [0, 1]
phys_cpu_sets = [0b01, 0b11]

[kernel]
entry_point = 0x8000
image_location = "memory"
bios_path = "bios.bin"
bios_load_addr = 0x8000
kernel_path = "kernel.bin"
kernel_load_addr = 0x20_0000
ramdisk_path = "kernel.bin"
ramdisk_load_addr = 0x40_0000
dtb_path = "kernel.bin"
dtb_load_addr = 0x50_0000
cmdline = "console=ttyS0"
enable_bios = true
boot_protocol = "multiboot"
memory_regions = [
    [0x0000_0000, 0x100_0000, 0x7, 0],
    [0x100_0000, 0x10_0000, 0x5, 0],
    [0x110_0000, 0x10_0000, 0x7, 1],
    [0x120_0000, 0x10_0000, 0x0, 2],
]

[devices]
interrupt_mode = "emu"
address_space_policy = "virtualized"
excluded_devices = []
emu_devices = [["COM1", 0x3f8, 8, 4, 0x2, []]]
passthrough_devices = [
    ["IO APIC", 0xfec0_0000, 0xfec0_0000, 0x1000, 0x1],
    ["Local APIC", 0xfee0_0000, 0xfee0_0000, 0x1000, 0x1],
    ["HPET", 0xfed0_0000, 0xfed0_0000, 0x1000, 0x1],
]
passthrough_ports = [[0x3f8, 8]]
passthrough_addresses = [[0xfec0_0000, 0x1000]]
`);
    expect(spec).toMatchObject({ id: 16, name: 'full', vmType: 2, cpuCount: 2, physCpuIds: [0, 1], vcpuAffinity: [[0], [0, 1]] });
    expect(spec.memoryRegions.map((region) => [region.mapType, region.readOnly])).toEqual([
      ['alloc', false],
      ['alloc', true],
      ['identical', false],
      ['reserved', false],
    ]);
    expect(spec.images.map((image) => [image.role, image.segments[0]?.gpa, image.size])).toEqual([
      ['bios', 0x8000, 0x200],
      ['kernel', 0x20_0000, 0x100],
      ['ramdisk', 0x40_0000, 0x100],
      ['dtb', 0x50_0000, 0x100],
    ]);
    expect(spec.boot).toEqual({
      method: 'bios',
      firmware: 'config-bios',
      kernelFormat: 'flat',
      cpuMode: 'real',
      entryPoint: 0x8000,
      kernelEntry: 0x20_0000,
      cmdline: 'console=ttyS0',
      multibootInfo: { base: 0x6000, size: 0x2000 },
      bootTables: undefined,
    });
    expect(spec.devices.map((device) => [device.kind, device.base, device.irq, device.origin])).toEqual([
      ['uart-16550', 0x3f8, 4, 'devices.emu_devices[0]'],
      ['debug-exit', 0xf4, undefined, 'platform'],
      ['acpi-pm1-control', 0x604, undefined, 'platform'],
      ['fw-cfg', 0x510, undefined, 'platform'],
      ['pit', 0x40, 2, 'platform'],
      ['system-control-port-b', 0x61, undefined, 'platform'],
      ['pic-master', 0x20, undefined, 'platform'],
      ['pic-slave', 0xa0, undefined, 'platform'],
      ['elcr', 0x4d0, undefined, 'platform'],
      ['io-apic', 0xfec00000, 1, 'devices.passthrough_devices[0]'],
      ['local-apic', 0xfee00000, 1, 'devices.passthrough_devices[1]'],
      ['hpet', 0xfed00000, 1, 'devices.passthrough_devices[2]'],
    ]);
    expect(spec.warnings).toEqual([
      `${spec.configPath}:12:13: kernel.bios_path: byte 0x3b of the BIOS is 0xf4, not 0xbb (mov ebx, imm32), so tsvisor cannot patch in the multiboot information's address (0x6000) as AxVisor does; the BIOS runs unchanged and must find it there itself.`,
      `${spec.configPath}:41:26: devices.passthrough_addresses[0]: MMIO 0xfec00000-0xfec00fff belong to IO APIC, which tsvisor emulates rather than passes through.`,
      `${spec.configPath}:40:22: devices.passthrough_ports[0]: I/O ports 0x3f8-0x3ff belong to COM1 (16550A UART), which tsvisor emulates rather than passes through.`,
    ]);
  });

  it('emulates a platform device named by a passthrough entry at its guest address', () => {
    const spec = load(VALID.replace('passthrough_devices = []', 'passthrough_devices = [["hpet0", 0xfed1_0000, 0, 0, 2]]'));
    expect(spec.devices.find((device) => device.kind === 'hpet')).toEqual({
      kind: 'hpet', name: 'HPET', bus: 'mmio', base: 0xfed10000, length: 0x1000, irq: 2, origin: 'devices.passthrough_devices[0]',
    });
  });

  it('honours the emu_devices of AxVisor\'s x86 configs: COM1 (0x2), the IO APIC (0x23) and the PIT (0x24), irq_id 0 keeping the PC\'s lines', () => {
    const spec = load(
      VALID.replace('emu_devices = []', 'emu_devices = [["x86-com1", 0x3f8, 0x8, 0x0, 0x2, []], ["x86-ioapic", 0xfec0_0000, 0x1000, 0x0, 0x23, []], ["x86-pit", 0x40, 0x22, 0x0, 0x24, []]]'),
    );
    const device = (kind: string) => spec.devices.find((entry) => entry.kind === kind);
    expect(device('uart-16550')).toMatchObject({ name: 'x86-com1 (16550A UART)', base: 0x3f8, length: 8, irq: 4, origin: 'devices.emu_devices[0]' });
    expect(device('io-apic')).toMatchObject({ name: 'x86-ioapic (IO APIC)', bus: 'mmio', base: 0xfec0_0000, length: 0x1000, origin: 'devices.emu_devices[1]' });
    expect(device('pit')).toMatchObject({ name: 'x86-pit (8254 PIT)', base: 0x40, length: 4, irq: 2, origin: 'devices.emu_devices[2]' });
    expect(device('system-control-port-b')).toMatchObject({ base: 0x61, length: 1 });
  });

  it('gives a VM a platform timer thread for an HPET or a PIT its config names, not for the PIT every VM has', () => {
    expect(hasPlatformTimers(load(VALID))).toBe(false);
    expect(hasPlatformTimers(load(VALID.replace('emu_devices = []', 'emu_devices = [["x86-pit", 0x40, 0x22, 0x0, 0x24, []]]')))).toBe(true);
    expect(hasPlatformTimers(load(VALID.replace('passthrough_devices = []', 'passthrough_devices = [["HPET", 0xfed0_0000, 0xfed0_0000, 0x1000, 0]]')))).toBe(true);
  });

  it('takes RAM up to 0xffffffff (a UEFI flash window), with KVM\'s real-mode pages moved below it', () => {
    const spec = load(VALID.replace('memory_regions = [', 'memory_regions = [\n    [0xffc0_0000, 0x40_0000, 0x7, 0],'));
    expect(spec.memoryRegions.map((region) => [region.gpa, region.size])).toContainEqual([0xffc0_0000, 0x40_0000]);
    expect(spec.kvmRealModeArea).toBe(0xfeffc000);
  });
});

describe('warnings', () => {
  const warningsOf = (text: string) => load(text).warnings.map((warning) => warning.slice(warning.indexOf(':') + 1));

  it('flag an unknown key with a did-you-mean suggestion, at the key', () => {
    expect(warningsOf(VALID.replace('cpu_num = 1', 'cpu_num = 1\ncpu_nmu = 2'))).toEqual([
      '6:1: base.cpu_nmu: tsvisor does not know this key and ignores it, as AxVisor does. Did you mean cpu_num?',
    ]);
    expect(warningsOf(`${VALID}\n[extra]\nx = 1\n`)).toEqual(['20:1: extra: tsvisor does not know this key and ignores it, as AxVisor does.']);
  });

  it('say once that no-execute and uncached memory cannot be enforced', () => {
    expect(warningsOf(VALID.replace('[0x0, 0x100_0000, 0x7, 0],', '[0x0, 0x100_0000, 0x3, 0],\n    [0x100_0000, 0x1000, 0x27, 0],'))).toEqual([
      '13:5: kernel.memory_regions[0]: memory_regions[0], memory_regions[1] ask for no-execute or uncached memory, which KVM memory slots cannot enforce: the guest can execute there, and caching follows its own page tables and MTRRs.',
    ]);
  });

  it('say what passthrough interrupts become; a virtualized address space is what tsvisor gives anyway', () => {
    expect(warningsOf(VALID.replace('passthrough_devices = []', 'passthrough_devices = []\ninterrupt_mode = "pt"\naddress_space_policy = "virtual"'))).toEqual([
      '19:18: devices.interrupt_mode: tsvisor emulates the interrupt controllers, so interrupts are delivered as with "emulated".',
    ]);
  });
});

describe('the old flat format', () => {
  it('is recognised, with the sections each key belongs in', () => {
    const error = errorOf('id = 1\nname = "old"\ncpu_num = 1\nentry_point = 0x8000\nkernel_path = "kernel.bin"\nemu_devices = []\n');
    expect(error.location).toEqual({ line: 1, column: 1 });
    expect(`${error.problem} ${error.fix}`).toBe(
      'this is the old flat AxVisor config format, with every key at the top level; current AxVisor and tsvisor read configs with [base], [kernel] and [devices] sections. To convert it, put id, name, cpu_num under [base]; put entry_point, kernel_path under [kernel]; put emu_devices under [devices]; see configs/hello-x86_64.toml for the layout.',
    );
  });
});

describe('AxVisor\'s newer formats (rcore-os/tgoskits)', () => {
  it('the GuestConfig format (guest_type, [devices] passthrough and disabled) is named, with how to convert it', () => {
    const error = errorOf(VALID.replace('vm_type = 1', 'guest_type = "passthrough"').replace('emu_devices = []\npassthrough_devices = []', 'passthrough = []\ndisabled = []'));
    expect([error.keyPath, error.location?.line]).toEqual(['base.guest_type', 4]);
    expect(error.problem).toBe('this is AxVisor\'s GuestConfig format (guest_type, [devices] passthrough and disabled, [[devices.virtual]]), newer than the axvmconfig format tsvisor reads.');
    expect(error.fix).toMatch(/^To convert it, replace guest_type with vm_type = 1, /);
  });

  it('the machine-profile format ([machine], [[memory.regions]]) is named, with how to convert it', () => {
    const error = errorOf(`[machine]\nmode = "passthrough"\n${VALID}\n[[memory.regions]]\nguest_base = 0x0\nsize = 0x1000000\n`);
    expect([error.keyPath, error.location]).toEqual(['machine', { line: 1, column: 1 }]);
    expect(error.problem).toMatch(/^this is AxVisor's machine-profile config format/);
    expect(error.fix).toMatch(/^To convert it, drop \[machine\]; write each region as \[kernel\] memory_regions = /);
  });
});

describe('image locations', () => {
  /** A FAT32 disk image made by the real tools, holding `files` (path inside -> bytes). */
  function disk(name: string, files: Record<string, Uint8Array>): string {
    const path = join(folder, name);
    execFileSync('truncate', ['-s', '40M', path]);
    execFileSync('mkfs.vfat', ['-F', '32', '-n', 'AXVISOR', path], { stdio: 'ignore' });
    for (const [inside, bytes] of Object.entries(files)) {
      const host = join(folder, `staged-${inside.replace(/\//g, '_')}`);
      writeFileSync(host, bytes);
      const parts = inside.split('/').slice(1, -1);
      for (let i = 1; i <= parts.length; i++) execFileSync('mmd', ['-D', 's', '-i', path, `::/${parts.slice(0, i).join('/')}`], { stdio: 'ignore' });
      execFileSync('mcopy', ['-i', path, host, `::${inside}`]);
    }
    return path;
  }

  it('"fs" reads the images from a disk.img beside the config, by absolute path inside it', () => {
    const sub = join(folder, 'with-disk');
    mkdirSync(sub);
    execFileSync('mv', [disk('tmp-disk.img', { '/boot/arceos-x86_64-kernel.bin': new Uint8Array(0x300).fill(1) }), join(sub, 'disk.img')]);
    const path = join(sub, 'vm.toml');
    writeFileSync(path, VALID.replace('image_location = "memory"', 'image_location = "fs"').replace('"kernel.bin"', '"boot/ARCEOS-x86_64-kernel.bin"'));
    const spec = loadVmConfig(path, HOST);
    expect(spec.images[0]).toMatchObject({ source: { kind: 'disk', disk: join(sub, 'disk.img'), path: '/boot/ARCEOS-x86_64-kernel.bin' }, size: 0x300 });
    expect(spec.images[0]?.segments).toEqual([{ gpa: 0x8000, offset: 0, fileSize: 0x300, memSize: 0x300 }]);
  });

  it('"fs" with disk_path reads that disk, and names where it looked when the image is missing', () => {
    const image = disk('named.img', { '/kernel.bin': new Uint8Array(0x100) });
    const text = VALID.replace('image_location = "memory"', `image_location = "fs"\ndisk_path = "named.img"`);
    expect(load(text).images[0]?.source).toEqual({ kind: 'disk', disk: image, path: '/kernel.bin' });
    const error = errorOf(text.replace('"kernel.bin"', '"/boot/nope.bin"'));
    expect(`${error.keyPath}: ${error.problem}`).toBe(`kernel.kernel_path: the image is not in the disk image (looked for /boot/nope.bin in ${image}).`);
  });

  it('"fs" without a disk image reads host files, and names every place it looked', () => {
    expect(load(VALID.replace('image_location = "memory"', 'image_location = "fs"')).images[0]?.source).toEqual({ kind: 'host', path: join(folder, 'kernel.bin') });
    const error = errorOf(VALID.replace('image_location = "memory"', 'image_location = "fs"').replace('"kernel.bin"', '"nope.bin"'));
    expect(error.problem).toBe(
      `the image does not exist (looked for ${join(folder, 'nope.bin')}). There is no disk image to look in either (kernel.disk_path is not set and ${join(folder, 'disk.img')} does not exist).`,
    );
  });

  it('a disk_path that is not a FAT32 image is an error at disk_path', () => {
    writeFileSync(join(folder, 'not-fat.img'), new Uint8Array(4096));
    const error = errorOf(VALID.replace('image_location = "memory"', 'image_location = "fs"\ndisk_path = "not-fat.img"'));
    expect(error.keyPath).toBe('kernel.disk_path');
    expect(error.location).toEqual({ line: 10, column: 13 });
    expect(error.fix).toBe('Give a FAT32 image (mkfs.vfat -F 32), or set image_location = "memory" to read host files.');
  });

  it('configFile writes variants next to the images', () => {
    expect(configFile('x = 1', 'named.toml')).toBe(join(folder, 'named.toml'));
  });
});
