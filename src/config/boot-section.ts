/**
 * How the VM boots, from [kernel]: entry_point, cmdline, and the newer enable_bios and
 * boot_protocol keys, checked against the images that are loaded.
 */
import { REAL_MODE_LIMIT } from '../boot/real-mode.js';
import { hex } from '../errors.js';
import type { ConfigSource, Table } from './config-source.js';
import type { BootSpec, ImageSpec } from './vm-spec.js';

type Protocol = 'direct' | 'multiboot' | 'bios' | 'uefi';

const PROTOCOLS: Readonly<Record<string, Protocol>> = {
  direct: 'direct',
  kernel: 'direct',
  multiboot: 'multiboot',
  bios: 'bios',
  'axvm-bios': 'bios',
  uefi: 'uefi',
  efi: 'uefi',
};

export function readBoot(source: ConfigSource, kernel: Table, images: readonly ImageSpec[]): BootSpec {
  const enableBios = kernel.enable_bios === undefined ? undefined : source.boolean(kernel.enable_bios, 'kernel.enable_bios');
  const protocol = kernel.boot_protocol === undefined ? undefined : source.choice(kernel.boot_protocol, 'kernel.boot_protocol', PROTOCOLS);
  const hasBios = images.some((image) => image.role === 'bios');

  if (protocol === 'direct' && enableBios === true) {
    throw source.error('kernel.boot_protocol', '"direct" boot enters the kernel without firmware, but enable_bios = true asks for a BIOS.', 'Remove one of them: set enable_bios = false, or choose boot_protocol = "multiboot".');
  }
  if (protocol === 'uefi') {
    throw source.error('kernel.boot_protocol', 'tsvisor has no UEFI firmware.', 'Boot the kernel through a BIOS stub (boot_protocol = "multiboot" with enable_bios = true) or directly (boot_protocol = "direct").');
  }
  if (protocol === 'direct' || (protocol === 'multiboot' && !hasBios && enableBios !== true) || (hasBios && enableBios === false)) {
    throw source.error(
      kernel.boot_protocol === undefined ? 'kernel.enable_bios' : 'kernel.boot_protocol',
      'direct boot (tsvisor entering the kernel itself, without firmware) is not supported by this version of tsvisor.',
      'Boot through a BIOS: set bios_path and bios_load_addr, with entry_point at the BIOS.',
    );
  }
  if (enableBios === true && !hasBios) {
    throw source.error('kernel.enable_bios', 'enable_bios = true without bios_path asks for a built-in BIOS stub, which this version of tsvisor does not have.', 'Set bios_path and bios_load_addr to a BIOS image, such as AxVisor\'s axvm-bios.bin.');
  }

  const entryPoint = source.integer(source.required(kernel, 'kernel', 'entry_point'), 'kernel.entry_point', { max: 2n ** 64n - 1n });
  if (entryPoint >= REAL_MODE_LIMIT) {
    throw source.error(
      'kernel.entry_point',
      `${hex(entryPoint)} is above 1 MiB: tsvisor starts vCPU 0 in real mode at entry_point, as AxVisor does, and real mode reaches only the first MiB.`,
      'Point entry_point at real-mode code below 0x100000: a BIOS stub (bios_path) or the start of a kernel image that begins in real mode, like the guests in guests/.',
    );
  }
  const entryImage = images.find((image) => entryPoint >= image.loadAddress && entryPoint < image.loadAddress + image.size);
  if (!entryImage) {
    throw source.error('kernel.entry_point', `${hex(entryPoint)} is not inside any loaded image: vCPU 0 would start on zeroed memory.`, 'Point it into the BIOS or kernel image.');
  }
  const cmdline = kernel.cmdline === undefined ? '' : source.string(kernel.cmdline, 'kernel.cmdline');
  return { mode: 'real-mode', firmware: hasBios ? 'config-bios' : 'none', entryPoint, cmdline };
}
