/** Every boot path under real KVM: the ArceOS contract through a BIOS, multiboot and ELF64 booted directly. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { elfImage } from '../helpers/images.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO, outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const AXTEST_OUTPUT = `EAX held the Multiboot magic 0x2badb002: ok
Multiboot flags 0, 2, 6, 9; mem_lower 640 KiB, mem_upper 15 MiB: ok
the memory map has one RAM entry, [0, 16 MiB): ok
the command line is "axtest cmdline": ok
the boot loader name is "tsvisor": ok
CPUID 16H: base frequency = the 15H TSC frequency, bus 1000 MHz: ok
the initial APIC ID is 0 (CPUID 1 and 0BH): ok
CPUID: hypervisor and TSC-deadline bits set, x2APIC clear, vendor "tsvisor": ok
fw_cfg: signature, 1 CPU, 16 MiB of RAM, etc/e820 with one RAM entry: ok
the IO APIC, Local APIC and HPET answer at 0xfec00000, 0xfee00000, 0xfed00000: ok
10 passed, 0 failed
`;

/** axtest behind a user's AxVisor-style BIOS: AxVisor's own multiboot information, its address patched into the BIOS. */
const AXTEST_AXVM_BIOS_OUTPUT = `EAX held the Multiboot magic 0x2badb002: ok
AxVisor's information at 0x6000: flags 0x41, mem_lower 639 KiB, mem_upper 15 MiB, its map at 0x6040: ok
the memory map has one RAM entry, [0, 16 MiB): ok
CPUID 16H: base frequency = the 15H TSC frequency, bus 1000 MHz: ok
the initial APIC ID is 0 (CPUID 1 and 0BH): ok
CPUID: hypervisor and TSC-deadline bits set, x2APIC clear, vendor "tsvisor": ok
fw_cfg: signature, 1 CPU, 16 MiB of RAM, etc/e820 with one RAM entry: ok
the IO APIC, Local APIC and HPET answer at 0xfec00000, 0xfee00000, 0xfed00000: ok
8 passed, 0 failed
`;

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-boot-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describeKvm('boot paths', () => {
  it('axtest: the ArceOS contract through tsvisor\'s built-in BIOS, to a clean power-off', async () => {
    const result = await tsvisor(['run', 'configs/axtest-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe(AXTEST_OUTPUT);
    expect(result.status).toBe(0);
    // The IO APIC, Local APIC and HPET the config lists are emulated, without a word.
    expect(result.stderr).toBe('');
  });

  it('axtest again through a user\'s own AxVisor-style BIOS from bios_path, patched and given AxVisor\'s information as AxVisor does', async () => {
    const config = readFileSync(join(REPO, 'configs/axtest-x86_64.toml'), 'utf8')
      .replace(/^enable_bios = true$/m, `bios_path = "${join(REPO, 'guests/build/axvm-style-bios.bin')}"\nbios_load_addr = 0x8000`)
      .replace(/^boot_protocol = "multiboot"$/m, '')
      .replace('"../guests/build/axtest.bin"', `"${join(REPO, 'guests/build/axtest.bin')}"`);
    const path = join(folder, 'axtest-axvm-bios.toml');
    writeFileSync(path, config);
    const result = await tsvisor(['run', path]);
    expect(result.stdout, outcomeOf(result)).toBe(AXTEST_AXVM_BIOS_OUTPUT);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('mb-direct: a multiboot ELF32 kernel booted directly, with a ramdisk module and a reserved hole', async () => {
    const result = await tsvisor(['run', 'configs/mb-direct-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe(`EAX held the Multiboot magic 0x2badb002: ok
Multiboot flags 0, 2, 3, 6, 9: ok
the memory map has RAM [0, 16 MiB) and a reserved [16 MiB, 17 MiB): ok
one module: the 16-byte ramdisk at 0x800000: ok
the command line is "mb-direct", the boot loader "tsvisor": ok
5 passed, 0 failed
`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('elf64: a 64-bit ELF entered in long mode on tsvisor\'s GDT and identity page tables', async () => {
    const result = await tsvisor(['run', 'configs/elf64-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe(`long mode: EFER.LMA and LME, CR0.PG and PE, CR4.PAE: ok
CS is the 64-bit code selector 0x18: ok
the last page of RAM (0x1fff000) is mapped and writable: ok
the page tables at CR3 identity-map 0xfee00000: ok
the initial APIC ID is 0: ok
the IDT loaded is the one idt_init() installed: ok
6 passed, 0 failed
`);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('a malformed image ends in its clear error, and no vCPU runs', async () => {
    writeFileSync(join(folder, 'cut.elf'), elfImage({ fileLength: 0x1080 }));
    const path = join(folder, 'cut.toml');
    writeFileSync(
      path,
      readFileSync(join(REPO, 'configs/elf64-x86_64.toml'), 'utf8').replace('"../guests/build/elf64.elf"', '"cut.elf"'),
    );
    const result = await tsvisor(['run', path]);
    expect(result.status).toBe(2);
    expect(result.stdout, outcomeOf(result)).toBe('');
    expect(result.stderr).toBe(
      `tsvisor: ${path}:14:15: kernel.kernel_path: the kernel image ${join(folder, 'cut.elf')} cannot be booted: the file is truncated: segment 0 needs bytes 4096-4351, but the file has 4224. Rebuild the image, or point kernel_path at a multiboot, ELF or flat x86 image.\n`,
    );
  });
});
