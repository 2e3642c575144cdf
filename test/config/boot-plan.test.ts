/** How a config boots: BIOS or direct, the kernel's format, and every malformed-image error, before any VM exists. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUILTIN_BIOS_PATH } from '../../src/boot/builtin-bios.js';
import { elfImage, kludgeImage, multibootImage } from '../helpers/images.js';
import { VALID, errorOf, folder, load } from './fixtures.js';

writeFileSync(join(folder, 'kludge.bin'), kludgeImage());
writeFileSync(join(folder, 'elf64.elf'), elfImage());
writeFileSync(join(folder, 'elf32.elf'), elfImage({ elfClass: 32 }));
writeFileSync(join(folder, 'aarch64.elf'), elfImage({ machine: 183 }));
writeFileSync(join(folder, 'truncated.elf'), elfImage({ fileLength: 0x1080 }));
writeFileSync(join(folder, 'high.elf'), elfImage({ paddr: 0x200_0000, entry: 0x200_0010 }));
writeFileSync(join(folder, 'bad-checksum.bin'), multibootImage({ flags: 0x3, checksum: 1 }));
writeFileSync(join(folder, 'plain.bin'), new Uint8Array(0x200).fill(0x90));
// AxVisor's patch site: mov ebx, imm32 (0xbb) at byte 0x3b of a 64-byte BIOS; and a BIOS too short to have one.
writeFileSync(join(folder, 'axvm-bios.bin'), new Uint8Array(0x40).fill(0x90).fill(0xbb, 0x3b, 0x3c));
writeFileSync(join(folder, 'short-bios.bin'), new Uint8Array(0x3f).fill(0x90));

/** VALID with the kernel replaced and extra [kernel] lines. */
const withKernel = (path: string, address: string, extra = '') =>
  VALID.replace('kernel_path = "kernel.bin"', `kernel_path = "${path}"${extra ? `\n${extra}` : ''}`).replace('kernel_load_addr = 0x8000', `kernel_load_addr = ${address}`);

describe('direct boots', () => {
  it('enter a multiboot kernel (a.out kludge) in protected mode, with the multiboot information and a GDT', () => {
    const spec = load(withKernel('kludge.bin', '0x20_0000'));
    expect(spec.boot).toEqual({
      method: 'direct', firmware: 'none', kernelFormat: 'multiboot', cpuMode: 'protected', entryPoint: 0x200100, kernelEntry: 0x200100,
      cmdline: '', multibootInfo: { base: 0x6000, size: 0x2000 }, bootTables: { base: 0x1000, size: 0x1000 },
    });
    expect(spec.images[0]?.segments).toEqual([{ gpa: 0x200000, offset: 0, fileSize: 0x2000, memSize: 0x4000 }]);
    expect(spec.warnings).toEqual([
      `${spec.configPath}:8:15: kernel.entry_point: 0x8000 is outside the kernel and is not used: tsvisor enters the multiboot kernel at its own entry point, 0x200100.`,
    ]);
  });

  it('enter an ELF64 kernel in long mode with identity page tables, an ELF32 kernel in protected mode', () => {
    const elf64 = load(withKernel('elf64.elf', '0x20_0000').replace('entry_point = 0x8000', 'entry_point = 0x200010'));
    expect(elf64.boot).toMatchObject({ kernelFormat: 'elf64', cpuMode: 'long', entryPoint: 0x200010, multibootInfo: undefined, bootTables: { base: 0x1000, size: 0x7000 } });
    expect(elf64.images[0]?.segments).toEqual([{ gpa: 0x200000, offset: 0x1000, fileSize: 0x100, memSize: 0x200 }]);
    expect(elf64.warnings).toEqual([]);
    const elf32 = load(withKernel('elf32.elf', '0x20_0000'));
    expect(elf32.boot).toMatchObject({ kernelFormat: 'elf32', cpuMode: 'protected', bootTables: { base: 0x1000, size: 0x1000 } });
  });

  it('start a flat image in real mode at entry_point; boot_protocol = "direct" ignores a multiboot header', () => {
    expect(load(withKernel('plain.bin', '0x8000')).boot).toMatchObject({ kernelFormat: 'flat', cpuMode: 'real', entryPoint: 0x8000 });
    const forced = load(withKernel('kludge.bin', '0x8000', 'boot_protocol = "direct"'));
    expect(forced.boot).toMatchObject({ kernelFormat: 'flat', cpuMode: 'real', entryPoint: 0x8000, multibootInfo: undefined });
  });
});

describe('BIOS boots', () => {
  it('enable_bios = true without bios_path loads the built-in stub at 0x8000 and starts it in real mode', () => {
    const spec = load(withKernel('kludge.bin', '0x20_0000', 'enable_bios = true\nboot_protocol = "multiboot"'));
    expect(spec.boot).toEqual({
      method: 'bios', firmware: 'builtin-bios', kernelFormat: 'multiboot', cpuMode: 'real', entryPoint: 0x8000, kernelEntry: 0x200100,
      cmdline: '', multibootInfo: { base: 0x6000, size: 0x2000 }, bootTables: undefined,
    });
    expect(spec.images[0]).toMatchObject({ role: 'bios', keyPath: 'kernel.enable_bios', source: { kind: 'host', path: BUILTIN_BIOS_PATH } });
    expect(spec.images[0]?.segments[0]?.gpa).toBe(0x8000);
  });

  it('a bios_path BIOS with mov ebx, imm32 at byte 0x3b gets AxVisor\'s multiboot information, its address patched in at 0x3c', () => {
    const spec = load(withKernel('kludge.bin', '0x20_0000', 'bios_path = "axvm-bios.bin"\nbios_load_addr = 0x8000'));
    expect(spec.boot.axvmBios).toEqual({ patchAddress: 0x803c, mainMemory: { base: 0, size: 0x100_0000 } });
    expect(spec.warnings).toEqual([]);
  });

  it('a bios_path BIOS without that opcode runs unchanged, with a one-line warning; one too short to hold it is an error', () => {
    const spec = load(withKernel('kludge.bin', '0x20_0000', 'bios_path = "plain.bin"\nbios_load_addr = 0x8000'));
    expect(spec.boot.axvmBios).toBeUndefined();
    expect(spec.warnings.map((warning) => warning.slice(warning.indexOf(': ') + 2))).toEqual([
      'kernel.bios_path: byte 0x3b of the BIOS is 0x90, not 0xbb (mov ebx, imm32), so tsvisor cannot patch in the multiboot information\'s address (0x6000) as AxVisor does; the BIOS runs unchanged and must find it there itself.',
    ]);
    const error = errorOf(withKernel('kludge.bin', '0x20_0000', 'bios_path = "short-bios.bin"\nbios_load_addr = 0x8000'));
    expect(error.keyPath).toBe('kernel.bios_path');
    expect(error.problem).toMatch(/is 63 bytes: AxVisor gives its BIOS the multiboot information's address in bytes 0x3c-0x3f \(the immediate of mov ebx, imm32\), beyond this image\.$/);
  });

  it('a bios_path BIOS loads the kernel as it is, at kernel_load_addr, as AxVisor does', () => {
    const spec = load(withKernel('kludge.bin', '0x20_0000', 'bios_path = "plain.bin"\nbios_load_addr = 0x8000'));
    expect(spec.boot).toMatchObject({ method: 'bios', firmware: 'config-bios', kernelFormat: 'flat', entryPoint: 0x8000 });
    expect(spec.images[1]?.segments).toEqual([{ gpa: 0x200000, offset: 0, fileSize: 0x3000, memSize: 0x3000 }]);
  });
});

describe('malformed or misplaced images', () => {
  const cases: [string, string, string, string][] = [
    ['a truncated file', withKernel('truncated.elf', '0x20_0000'), 'kernel.kernel_path', 'the file is truncated: segment 0 needs bytes 4096-4351, but the file has 4224'],
    ['a bad multiboot checksum', withKernel('bad-checksum.bin', '0x20_0000'), 'kernel.kernel_path', 'its multiboot header at offset 0x40 has a bad checksum: magic + flags + checksum is 0x1'],
    ['an ELF for another machine', withKernel('aarch64.elf', '0x20_0000'), 'kernel.kernel_path', 'it is an ELF64 file for machine 183 (AArch64), not for x86-64 (62)'],
    ['"multiboot" for an image without a header', withKernel('plain.bin', '0x20_0000', 'boot_protocol = "multiboot"'), 'kernel.kernel_path', 'boot_protocol = "multiboot", but it has no multiboot header (magic 0x1BADB002) in its first 8 KiB'],
    ['an ELF64 kernel behind the built-in BIOS', withKernel('elf64.elf', '0x20_0000', 'enable_bios = true'), 'kernel.kernel_path', 'it is an ELF64 file, and the built-in BIOS enters kernels in 32-bit protected mode'],
  ];
  it.each(cases)('%s', (_name, text, keyPath, fault) => {
    const error = errorOf(text);
    expect(error.keyPath).toBe(keyPath);
    expect(error.problem).toMatch(new RegExp(`^the kernel image .+ cannot be booted: ${fault.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
  });

  it('a segment outside RAM', () => {
    const error = errorOf(withKernel('high.elf', '0x20_0000'));
    expect([error.keyPath, error.problem]).toEqual([
      'kernel.kernel_path',
      'the kernel image (512 bytes) would occupy 0x2000000-0x20001ff, which is not inside one RAM region (RAM: 0x0-0xffffff).',
    ]);
  });

  it('an image overlapping the BIOS', () => {
    const error = errorOf(withKernel('plain.bin', '0x8100', 'enable_bios = true'));
    expect([error.keyPath, error.problem]).toEqual([
      'kernel.kernel_load_addr',
      'the kernel image (0x8100-0x82ff) overlaps the bios image (0x8000-' + error.problem.replace(/.*bios image \(0x8000-(0x[0-9a-f]+)\).*/, '$1') + ').',
    ]);
  });

  it('an image over the multiboot information', () => {
    const error = errorOf(withKernel('plain.bin', '0x6800', 'enable_bios = true'));
    expect(error.problem).toBe('the kernel image (0x6800-0x69ff) overlaps the multiboot information tsvisor writes (0x6000-0x7fff).');
  });

  it('the built-in BIOS anywhere but 0x8000', () => {
    const error = errorOf(withKernel('kludge.bin', '0x20_0000', 'enable_bios = true\nbios_load_addr = 0x9000'));
    expect(`${error.keyPath}: ${error.problem}`).toBe("kernel.bios_load_addr: tsvisor's built-in BIOS runs at 0x8000, not 0x9000.");
  });

  it('a command line too long for the multiboot area', () => {
    const error = errorOf(withKernel('kludge.bin', '0x20_0000', `cmdline = "${'x'.repeat(9000)}"`));
    expect(`${error.keyPath}: ${error.problem}`).toMatch(/^kernel\.cmdline: the multiboot information needs 9\d{3} bytes, but its area holds 8192 \(0x6000-0x7fff\)\.$/);
  });
});

describe('the areas tsvisor writes need RAM', () => {
  it('says so when the boot tables would land outside RAM', () => {
    const error = errorOf(
      withKernel('elf64.elf', '0x20_0000').replace('[0x0, 0x100_0000, 0x7, 0],', '[0x10_0000, 0x100_0000, 0x7, 0],'),
    );
    expect(`${error.keyPath}: ${error.problem} ${error.fix}`).toBe(
      'kernel.memory_regions: the GDT and page tables tsvisor writes (28672 bytes) would occupy 0x1000-0x7fff, which is not inside one RAM region (RAM: 0x100000-0x10fffff). This boot needs RAM there: add a memory region (MAP_ALLOC) that covers it.',
    );
  });
});
