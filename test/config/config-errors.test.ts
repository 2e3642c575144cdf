/**
 * Invalid configs, one per row: each must fail with a ConfigError at the exact line,
 * column and key path, with the exact problem and fix.
 */
import { describe, expect, it } from 'vitest';
import { VALID, errorOf } from './fixtures.js';

interface Case {
  readonly name: string;
  readonly text: string;
  readonly line: number;
  readonly column: number;
  readonly keyPath: string | undefined;
  readonly message: string;
}

const replace = (from: string, to: string) => {
  if (!VALID.includes(from)) throw new Error(`the fixture has no ${from}`);
  return VALID.replace(from, to);
};
const REGION = '[0x0, 0x100_0000, 0x7, 0],';
const withDevices = (passthrough: string, emulated = '[]') =>
  replace('emu_devices = []\npassthrough_devices = []', `emu_devices = ${emulated}\npassthrough_devices = ${passthrough}`);

const CASES: Case[] = [
  {
    name: 'a missing required key',
    text: replace('id = 7\n', ''),
    line: 1, column: 1, keyPath: 'base.id',
    message: 'this required key is missing. Add `id = ...` to the [base] table.',
  },
  {
    name: 'a misspelt required key',
    text: replace('kernel_path = "kernel.bin"', 'kernal_path = "kernel.bin"'),
    line: 10, column: 1, keyPath: 'kernel.kernel_path',
    message: 'this required key is missing. Add `kernel_path = ...` to the [kernel] table. The table has `kernal_path`: is that a misspelling of kernel_path?',
  },
  {
    name: 'a wrong type',
    text: replace('cpu_num = 1', 'cpu_num = "one"'),
    line: 5, column: 11, keyPath: 'base.cpu_num',
    message: 'expected an integer, found the string "one". Write a whole number, in decimal or hex (0x20_0000).',
  },
  {
    name: 'a value out of range',
    text: replace('cpu_num = 1', 'cpu_num = 0'),
    line: 5, column: 11, keyPath: 'base.cpu_num',
    message: '0 is out of range: expected 1 to 255. Use a value in that range.',
  },
  {
    name: 'an unknown vm_type',
    text: replace('vm_type = 1', 'vm_type = 3'),
    line: 4, column: 11, keyPath: 'base.vm_type',
    message: '3 is out of range: expected 0 to 2. Use a value in that range.',
  },
  {
    name: 'a float where an integer belongs',
    text: replace('id = 7', 'id = 7.5'),
    line: 2, column: 6, keyPath: 'base.id',
    message: 'expected an integer, found the float 7.5. Write a whole number, in decimal or hex (0x20_0000).',
  },
  {
    name: 'an unknown map_type',
    text: replace(REGION, '[0x0, 0x100_0000, 0x7, 3],'),
    line: 13, column: 28, keyPath: 'kernel.memory_regions[0][3]',
    message: 'unknown map_type 3: expected 0 (MAP_ALLOC), 1 (MAP_IDENTICAL) or 2 (MAP_RESERVED). Use 0 for guest RAM.',
  },
  {
    name: 'a region entry with a field missing',
    text: replace(REGION, '[0x0, 0x100_0000, 0x7],'),
    line: 13, column: 5, keyPath: 'kernel.memory_regions[0]',
    message: 'expected [base_gpa, size, flags, map_type], found an array of 3. Give all 4 fields in that order.',
  },
  {
    name: 'overlapping memory regions',
    text: replace(REGION, `${REGION}\n    [0x80_0000, 0x100_0000, 0x7, 0],`),
    line: 14, column: 5, keyPath: 'kernel.memory_regions[1]',
    message: 'this region (0x800000-0x17fffff) overlaps memory_regions[0] (0x0-0xffffff). Make the regions disjoint.',
  },
  {
    name: 'a region that is not 4 KiB aligned',
    text: replace(REGION, '[0x0, 0x100_0800, 0x7, 0],'),
    line: 13, column: 5, keyPath: 'kernel.memory_regions[0]',
    message: 'base 0x0 and size 0x1000800 must both be multiples of 4 KiB. Round the region to whole 4 KiB pages.',
  },
  {
    name: 'a region above the host\'s address width',
    text: replace(REGION, `${REGION}\n    [0xffff_ffff_f000, 0x2000, 0x7, 0],`),
    line: 14, column: 5, keyPath: 'kernel.memory_regions[1]',
    message: 'the region (0xfffffffff000-0x1000000000fff) ends above this host\'s 48-bit physical address limit (0xffffffffffff). Move it lower or make it smaller.',
  },
  {
    name: 'a region above 2^64',
    text: replace(REGION, '[0x1_0000_0000_0000_0000, 0x1000, 0x7, 0],'),
    line: 13, column: 6, keyPath: 'kernel.memory_regions[0][0]',
    message: '0x10000000000000000 is out of range: expected 0 to 0xffffffffffffffff. Use a value in that range.',
  },
  {
    name: 'a region without READ',
    text: replace(REGION, '[0x0, 0x100_0000, 0x6, 0],'),
    line: 13, column: 23, keyPath: 'kernel.memory_regions[0][2]',
    message: 'flags 0x6 lack READ (0x1): guest RAM must be readable. Add READ; an address range that is not memory belongs in devices.emu_devices or devices.passthrough_devices.',
  },
  {
    name: 'a region with DEVICE',
    text: replace(REGION, '[0x0, 0x100_0000, 0x17, 0],'),
    line: 13, column: 23, keyPath: 'kernel.memory_regions[0][2]',
    message: 'flags 0x17 include DEVICE (0x10): tsvisor maps memory_regions as RAM. Describe a device in devices.emu_devices or devices.passthrough_devices instead.',
  },
  {
    name: 'AxVisor\'s low boot scratch (MAP_ALLOC) inside a MAP_IDENTICAL region',
    text: replace(REGION, '[0x0, 0x800_0000, 0x7, 1], [0x0, 0x10_0000, 0x7, 0],'),
    line: 13, column: 32, keyPath: 'kernel.memory_regions[1]',
    message: 'this region (0x0-0xfffff) overlaps memory_regions[0] (0x0-0x7ffffff), a MAP_IDENTICAL one. AxVisor maps a MAP_IDENTICAL region where the host memory it allocates for it lies (guest address = host physical address), not at its configured base, so there the two never meet; tsvisor, a host process, has no host physical addresses to give and maps it at its configured base. Drop the region the MAP_IDENTICAL one already covers, or move one of them.',
  },
  {
    name: 'regions that leave KVM no room for its real-mode pages below 4 GiB',
    text: replace(REGION, '[0x0, 0xfee0_0000, 0x7, 0], [0xfee0_1000, 0x11f_f000, 0x7, 0],'),
    line: 12, column: 18, keyPath: 'kernel.memory_regions',
    message: 'the regions and MMIO devices leave no 16 KiB free below 4 GiB, where KVM must keep the identity page table and TSS it runs real mode with. Leave a 16 KiB gap below 4 GiB, say at 0xfeffc000.',
  },
  {
    name: 'an image not wholly inside one RAM region',
    text: replace('kernel_load_addr = 0x8000', 'kernel_load_addr = 0xffff80'),
    line: 11, column: 20, keyPath: 'kernel.kernel_load_addr',
    message: 'the kernel image (256 bytes) would occupy 0xffff80-0x100007f, which is not inside one RAM region (RAM: 0x0-0xffffff). Load it where one memory region (MAP_ALLOC or MAP_IDENTICAL) has room for all of it, or enlarge the region.',
  },
  {
    name: 'an image above the address width',
    text: replace('kernel_load_addr = 0x8000', 'kernel_load_addr = 0x1_0000_0000_0000'),
    line: 11, column: 20, keyPath: 'kernel.kernel_load_addr',
    message: 'the kernel image (256 bytes) would occupy 0x1000000000000-0x10000000000ff, which is not inside one RAM region (RAM: 0x0-0xffffff). Load it where one memory region (MAP_ALLOC or MAP_IDENTICAL) has room for all of it, or enlarge the region.',
  },
  {
    name: 'two images overlapping',
    text: replace('kernel_load_addr = 0x8000', 'kernel_load_addr = 0x8000\nramdisk_path = "bios.bin"\nramdisk_load_addr = 0x8080'),
    line: 13, column: 21, keyPath: 'kernel.ramdisk_load_addr',
    message: 'the ramdisk image (0x8080-0x827f) overlaps the kernel image (0x8000-0x80ff). Load the images at addresses that do not overlap, and keep them clear of the areas tsvisor writes.',
  },
  {
    name: 'a missing image',
    text: replace('"kernel.bin"', '"missing.bin"'),
    line: 10, column: 15, keyPath: 'kernel.kernel_path',
    message: 'the image does not exist (looked for FOLDER/missing.bin). Relative paths are relative to the config file\'s folder.',
  },
  {
    name: 'phys_cpu_sets whose length is not cpu_num',
    text: replace('cpu_num = 1', 'cpu_num = 2\nphys_cpu_sets = [1]'),
    line: 6, column: 17, keyPath: 'base.phys_cpu_sets',
    message: 'expected one entry per vCPU (cpu_num = 2), found 1. Give exactly 2 entries, the first for vCPU 0.',
  },
  {
    name: 'phys_cpu_sets naming a CPU the host does not have',
    text: replace('cpu_num = 1', 'cpu_num = 1\nphys_cpu_sets = [0b101]'),
    line: 6, column: 18, keyPath: 'base.phys_cpu_sets[0]',
    message: 'bit 2 names host CPU 2, but this host\'s online CPUs are 0 and 1. Use a mask of online CPUs only (bit n is CPU n; 0x3 allows all of them).',
  },
  {
    name: 'an empty phys_cpu_sets mask',
    text: replace('cpu_num = 1', 'cpu_num = 1\nphys_cpu_sets = [0]'),
    line: 6, column: 18, keyPath: 'base.phys_cpu_sets[0]',
    message: '0 is out of range: expected 1 to 0xffffffffffffffff. Use a value in that range.',
  },
  {
    name: 'a device range overlapping RAM',
    text: withDevices('[["IO APIC", 0x80_0000, 0xfec0_0000, 0x1000, 1]]'),
    line: 18, column: 24, keyPath: 'devices.passthrough_devices[0]',
    message: 'IO APIC at MMIO 0x800000-0x800fff overlaps guest memory kernel.memory_regions[0] (0x0-0xffffff). Move the device, or end the memory region below it.',
  },
  {
    name: 'a device range overlapping another device',
    text: withDevices('[["IO APIC", 0xfec0_0000, 0xfec0_0000, 0x1000, 1], ["HPET", 0xfec0_0800, 0xfed0_0000, 0x1000, 2]]'),
    line: 18, column: 74, keyPath: 'devices.passthrough_devices[1]',
    message: 'HPET at MMIO 0xfec00800-0xfec017ff overlaps IO APIC at MMIO 0xfec00000-0xfec00fff (devices.passthrough_devices[0]). Move the device to free addresses.',
  },
  {
    name: 'a device over a platform device',
    text: withDevices('[["HPET", 0xfee0_0000, 0xfed0_0000, 0x1000, 2]]'),
    line: 18, column: 24, keyPath: 'devices.passthrough_devices[0]',
    message: 'HPET at MMIO 0xfee00000-0xfee00fff overlaps Local APIC at MMIO 0xfee00000-0xfee00fff, which every tsvisor VM has. Move the device to free addresses.',
  },
  {
    name: 'a host device passed through',
    text: withDevices('[["NIC", 0xfe00_0000, 0xfe00_0000, 0x1000, 11]]'),
    line: 18, column: 24, keyPath: 'devices.passthrough_devices[0]',
    message: 'tsvisor cannot pass the host device "NIC" (0xfe000000) through: a userspace VMM has no access to host devices. Remove the entry. tsvisor emulates the x86 platform devices a passthrough entry may name: the IO APIC (0xfec00000), the Local APIC (0xfee00000) and the HPET (0xfed00000).',
  },
  {
    name: 'an unknown emu_type',
    text: withDevices('[]', '[["thing", 0x1000, 8, 0, 0x99, []]]'),
    line: 17, column: 40, keyPath: 'devices.emu_devices[0][4]',
    message: 'unknown emu_type 0x99: the known codes are 0x0 Dummy, 0x1 InterruptController, 0x2 Console, 0x3 FwCfg, 0xa IVCChannel, 0x20 GPPTRedistributor, 0x21 GPPTDistributor, 0x22 GPPTITS, 0x23 X86IoApic, 0x24 X86Pit, 0x25 LoongArchPchPic, 0x30 PPPTGlobal, 0xe1 VirtioBlk, 0xe2 VirtioNet, 0xe3 VirtioConsole. tsvisor models 0x2 (Console: COM1, a 16550A UART at I/O port 0x3f8), 0x3 (FwCfg: QEMU\'s fw_cfg at I/O port 0x510), 0x23 (X86IoApic, at its base_gpa) and 0x24 (X86Pit: the 8254 at I/O port 0x40).',
  },
  {
    name: 'an emu_type of another architecture',
    text: withDevices('[]', '[["GICD", 0x800_0000, 0x1_0000, 0, 0x21, []]]'),
    line: 17, column: 50, keyPath: 'devices.emu_devices[0][4]',
    message: 'emu_type 0x21 (GPPTDistributor) is a device of ARM, not of x86. Remove it; on x86 tsvisor models 0x2 (Console: COM1, a 16550A UART at I/O port 0x3f8), 0x3 (FwCfg: QEMU\'s fw_cfg at I/O port 0x510), 0x23 (X86IoApic, at its base_gpa) and 0x24 (X86Pit: the 8254 at I/O port 0x40).',
  },
  {
    name: 'an emu_type not modelled: AxVisor\'s virtio-mmio block device',
    text: withDevices('[]', '[["virtio-blk", 0xa00_0000, 0x200, 0, 0xe1, []]]'),
    line: 17, column: 53, keyPath: 'devices.emu_devices[0][4]',
    message: 'emu_type 0xe1 (VirtioBlk) is AxVisor\'s virtio-mmio block device: tsvisor has no virtio devices. Load what the guest needs from its image or a multiboot module. Remove the entry; tsvisor models 0x2 (Console: COM1, a 16550A UART at I/O port 0x3f8), 0x3 (FwCfg: QEMU\'s fw_cfg at I/O port 0x510), 0x23 (X86IoApic, at its base_gpa) and 0x24 (X86Pit: the 8254 at I/O port 0x40).',
  },
  {
    name: 'an IO APIC (emu_type 0x23) that is not one page',
    text: withDevices('[]', '[["ioapic", 0xfec0_0000, 0x2000, 0, 0x23, []]]'),
    line: 17, column: 16, keyPath: 'devices.emu_devices[0]',
    message: 'an IO APIC takes one 4 KiB MMIO page; this entry gives 0xfec00000 with length 0x2000. Give a page-aligned base_gpa (0xfec0_0000 on a PC) and length 0x1000.',
  },
  {
    name: 'a console somewhere other than COM1',
    text: withDevices('[]', '[["COM2", 0x2f8, 8, 3, 0x2, []]]'),
    line: 17, column: 16, keyPath: 'devices.emu_devices[0]',
    message: 'tsvisor\'s Console is COM1, a 16550A UART at I/O ports 0x3f8-0x3ff; one at I/O ports 0x2f8-0x2ff is not supported. Use base 0x3f8 and length 8, or remove the entry (the device is always there).',
  },
  {
    name: 'boot_protocol = "direct" with enable_bios = true',
    text: replace('image_location = "memory"', 'image_location = "memory"\nenable_bios = true\nboot_protocol = "direct"'),
    line: 11, column: 17, keyPath: 'kernel.boot_protocol',
    message: '"direct" boot enters the kernel without firmware, but enable_bios = true asks for a BIOS. Remove one of them: set enable_bios = false, or choose boot_protocol = "multiboot".',
  },
  {
    name: 'an unknown boot_protocol',
    text: replace('image_location = "memory"', 'image_location = "memory"\nboot_protocol = "pxe"'),
    line: 10, column: 17, keyPath: 'kernel.boot_protocol',
    message: 'expected one of "direct", "kernel", "multiboot", "bios", "axvm-bios", "uefi", "efi", found "pxe". Use one of those values.',
  },
  {
    name: 'UEFI',
    text: replace('image_location = "memory"', 'image_location = "memory"\nboot_protocol = "uefi"'),
    line: 10, column: 17, keyPath: 'kernel.boot_protocol',
    message: 'this config boots through UEFI, as AxVisor does with OVMF loaded at bios_load_addr and vCPU 0 started at the reset vector 0xfffffff0; tsvisor has no UEFI boot (no pflash, no firmware tables, no PCI for OVMF to find). Boot the kernel through a BIOS (boot_protocol = "multiboot" with enable_bios = true, entry_point = 0x8000, and no uefi_firmware_path) or directly (boot_protocol = "direct").',
  },
  {
    name: 'an OVMF image in uefi_firmware_path (AxVisor\'s UEFI configs)',
    text: replace('image_location = "memory"', 'image_location = "memory"\nuefi_firmware_path = "kernel.bin"'),
    line: 10, column: 22, keyPath: 'kernel.uefi_firmware_path',
    message: 'this config boots through UEFI, as AxVisor does with OVMF loaded at bios_load_addr and vCPU 0 started at the reset vector 0xfffffff0; tsvisor has no UEFI boot (no pflash, no firmware tables, no PCI for OVMF to find). Boot the kernel through a BIOS (boot_protocol = "multiboot" with enable_bios = true, entry_point = 0x8000, and no uefi_firmware_path) or directly (boot_protocol = "direct").',
  },
  {
    name: 'AxVisor\'s host address space (address_space_policy = "passthrough")',
    text: replace('passthrough_devices = []', 'passthrough_devices = []\naddress_space_policy = "pt"'),
    line: 19, column: 24, keyPath: 'devices.address_space_policy',
    message: '"passthrough" asks for AxVisor\'s host address space: every host physical address outside guest RAM and the emulated devices mapped into the guest at the same address. A userspace VMM has no access to host physical memory. Use "virtualized" (the default): the guest sees its memory_regions and tsvisor\'s devices, nothing of the host.',
  },
  {
    name: 'an entry point above 1 MiB',
    text: replace('entry_point = 0x8000', 'entry_point = 0x20_0000'),
    line: 8, column: 15, keyPath: 'kernel.entry_point',
    message: '0x200000 is above 1 MiB: this boot starts vCPU 0 in real mode at entry_point, as AxVisor does, and real mode reaches only the first MiB. Point entry_point at the BIOS (bios_path, or enable_bios = true) or at real-mode code below 0x100000; a multiboot or ELF kernel can also boot directly (boot_protocol = "direct").',
  },
  {
    name: 'an entry point outside every image',
    text: replace('entry_point = 0x8000', 'entry_point = 0x9000'),
    line: 8, column: 15, keyPath: 'kernel.entry_point',
    message: '0x9000 is not inside the kernel image: vCPU 0 would start on zeroed memory. Point it into the kernel image.',
  },
  {
    name: 'an unknown interrupt_mode',
    text: replace('passthrough_devices = []', 'passthrough_devices = []\ninterrupt_mode = "msi"'),
    line: 19, column: 18, keyPath: 'devices.interrupt_mode',
    message: 'expected one of "no_irq", "no", "none", "emu", "emulated", "passthrough", "pt", found "msi". Use one of those values.',
  },
  {
    name: 'emu_devices that is not a list',
    text: replace('emu_devices = []', 'emu_devices = "none"'),
    line: 17, column: 15, keyPath: 'devices.emu_devices',
    message: 'expected an array, found the string "none". Write a list in brackets, possibly empty: [].',
  },
  {
    name: 'a TOML syntax error',
    text: replace('name = "test"', 'name = "test'),
    line: 3, column: 13, keyPath: undefined,
    message: 'this is not valid TOML: a string is not closed on this line. Fix the syntax there; an AxVisor config is a TOML file with [base], [kernel] and [devices] tables.',
  },
];

describe('invalid configs', () => {
  it.each(CASES.map((testCase) => [testCase.name, testCase] as const))('%s', (_name, testCase) => {
    const error = errorOf(testCase.text);
    const expected = testCase.message.replace('FOLDER', error.file.replace(/\/config-\d+\.toml$/, ''));
    expect({ location: error.location, keyPath: error.keyPath, message: `${error.problem} ${error.fix}` }).toEqual({
      location: { line: testCase.line, column: testCase.column },
      keyPath: testCase.keyPath,
      message: expected,
    });
    expect(error.message).toBe(`${error.file}:${testCase.line}:${testCase.column}:${testCase.keyPath ? ` ${testCase.keyPath}:` : ''} ${expected}`);
  });
});
