/**
 * The arceos-path test kernel (guests/arceos-path) under `tsvisor run`, on real KVM: the boot
 * path of ArceOS helloworld on x86_64 (axplat-x86-pc), step by step. A multiboot kernel with
 * the a.out kludge at 0x200000 whose own 32-bit entry turns on long mode on 1-GiB pages
 * mapped at 0 and 0xffff800000000000 and runs the rest from the high half: GS_BASE, a GDT
 * with a TSS, an IDT, EFER, COM1 as uart_16550 drives it, CPUID 1 and 0x16, the TSC,
 * IA32_APIC_BASE, the 8259A masks, the Local APIC enabled through its high-half alias as the
 * x2apic crate does it, the IO APIC's pins masked, and the periodic LAPIC timer waking a hlt
 * loop. Booted three ways, which must print the same: through tsvisor's built-in BIOS,
 * through an AxVisor-style BIOS given as bios_path (AxVisor's own multiboot information), and
 * directly (tsvisor enters the kernel in 32-bit mode itself).
 *
 * ArceOS needs 1-GiB pages and does not check for them. A host whose KVM offers none
 * (CPUID 0x80000001 EDX bit 26 clear in KVM_GET_SUPPORTED_CPUID: KVM on PVM, for one) cannot
 * run ArceOS's page tables at all: the first fetch after paging comes on faults, and ArceOS
 * triple-faults. The kernel reports that as its one FAIL there, maps the first 4 GiB with
 * 2-MiB pages instead and checks everything else, so the exact output depends on the host:
 * status 0 where 1-GiB pages exist, status 3 (one failure) where they do not.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { Kvm } from '../../src/kvm/index.js';
import { describeKvm } from '../helpers/kvm.js';
import { REPO, outcomeOf, tsvisor } from '../helpers/tsvisor.js';

const PDPE1GB_CHECK = "CPUID 0x80000001 EDX bit 26: 1-GiB pages (pdpe1gb), which ArceOS's boot page tables use";

/** Every check line's name, in the kernel's order. */
const CHECKS = [
  'multiboot header: flags 0x00010002 (a.out kludge), load_addr 0x200000, bss_end_addr 0x258000, entry_addr 0x200000',
  'EAX held the Multiboot magic 0x2badb002',
  'the multiboot information (read at its high-half alias) has a memory map (flags bit 6) whose RAM holds the kernel',
  PDPE1GB_CHECK,
  "32-bit entry as ArceOS's: CR4 = PAE | PGE, EFER = LME | NXE (LMA set), CR0 = PG | WP | NE | MP | PE, CR3 = its PML4",
  'boot page tables: PML4 entries 0 and 256 share one PDPT, of 512 1-GiB pages where the CPU has them; memory reads alike at P and 0xffff800000000000 + P',
  'running in the high half: RIP in the kernel at 0xffff800000200000+, RSP on its boot stack, null data segments',
  'IA32_GS_BASE holds the high-half per-CPU area, and %gs:0 reads its self pointer',
  'GDT at its high-half address with a 64-bit TSS: CS reloaded to 0x10, ltr 0x38 marked the TSS busy',
  'IDT at its high-half address: vectors 0-31 and 0xf0-0xf2',
  'EFER read-modify-write (SCE added) keeps LME, LMA and NXE',
  'COM1 as uart_16550 sets it up: divisor 3, 8N1, FIFOs on, MCR 0x0b, IER 0x01',
  'CPUID 1: a Local APIC, no x2APIC (so ArceOS programs the xAPIC by MMIO), initial APIC ID 0',
  "CPUID 0x16: a base frequency for ArceOS's TSC clock",
  'RDTSC twice: the second reads later',
  'IA32_APIC_BASE = 0xfee00900: base 0xfee00000, enabled (bit 11), BSP (bit 8)',
  'the 8259A pair masked as ArceOS masks it: 0x21 and 0xa1 read back 0xff',
  'Local APIC through the high half (0xffff8000fee00000): version 0x14, SVR 0xff (software-disabled, as reset leaves it)',
  "x2apic's LocalApic::enable(): SVR 0x1f1, TDCR 0xb, TICR 10000000; timer (periodic, 0xf0), error (0xf2), LINT0, LINT1 still masked (written while software-disabled)",
  'IO APIC through the high half (0xffff8000fec00000): 24 pins masked to vectors 0x20-0x37, pins 10-23 level, active low',
  'the periodic timer (vector 0xf0, 10 ms) wakes a hlt loop 3 times within 2 s, no sooner than its period allows, EOI each',
  'masking the LVT timer stops its interrupts',
];

/** What the kernel prints, and the status tsvisor exits with, on a host with or without 1-GiB pages. */
function expected(gbPages: boolean): { stdout: string; status: number } {
  const lines = CHECKS.flatMap((check) => {
    if (check !== PDPE1GB_CHECK || gbPages) return [`${check}: ok`];
    return [
      '  CPUID 0x80000001 EDX bit 26: 0x0, expected 0x1',
      "  ArceOS's page tables would fault at the first fetch after paging comes on; this kernel mapped the first 4 GiB with 2-MiB pages instead",
      `${check}: FAIL`,
    ];
  });
  const failed = gbPages ? 0 : 1;
  lines.push(`${CHECKS.length - failed} passed, ${failed} failed`);
  // A clean power-off; otherwise the debug-exit port with the failure count: (1 << 1) | 1.
  return { stdout: `${lines.join('\n')}\n`, status: gbPages ? 0 : 3 };
}

/** Whether this host's KVM lets a guest use 1-GiB pages: CPUID 0x80000001 EDX bit 26 in what it supports (tsvisor passes it through). */
function hostHasGbPages(): boolean {
  const system = Kvm.open();
  try {
    const leaf = system.getSupportedCpuid().find((entry) => entry.function === 0x8000_0001 && entry.index === 0);
    return leaf !== undefined && ((leaf.edx >>> 26) & 1) === 1;
  } finally {
    system.close();
  }
}

const folder = mkdtempSync(join(tmpdir(), 'tsvisor-arceos-path-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

const CONFIG = 'configs/arceos-path-x86_64.toml';
const KERNEL = '"../guests/build/arceos-path.bin"';

/** A variant of the config in the temporary folder, with the kernel's path made absolute. */
function variant(name: string, edit: (config: string) => string): string {
  const config = edit(readFileSync(join(REPO, CONFIG), 'utf8')).replace(KERNEL, JSON.stringify(join(REPO, 'guests/build/arceos-path.bin')));
  const path = join(folder, `${name}.toml`);
  writeFileSync(path, config);
  return path;
}

describeKvm('the arceos-path test kernel: ArceOS helloworld\'s x86_64 boot path', () => {
  it('boots through tsvisor\'s built-in BIOS (enable_bios = true) and passes every check its host allows', async () => {
    const { stdout, status } = expected(hostHasGbPages());
    const result = await tsvisor(['run', CONFIG]);
    expect(result.stdout, outcomeOf(result)).toBe(stdout);
    // The IO APIC, Local APIC and HPET the config lists are emulated, without a word.
    expect(result.stderr).toBe('');
    expect(result.status).toBe(status);
  });

  it('boots through an AxVisor-style BIOS from bios_path, patched with AxVisor\'s multiboot information at 0x6000, the same', async () => {
    const path = variant('axvm-bios', (config) => {
      const edited = config
        .replace(/^enable_bios = true$/m, `bios_path = ${JSON.stringify(join(REPO, 'guests/build/axvm-style-bios.bin'))}\nbios_load_addr = 0x8000`)
        .replace(/^boot_protocol = "multiboot"\n/m, '');
      expect(edited).toMatch(/^bios_load_addr = 0x8000$/m);
      expect(edited).not.toMatch(/^enable_bios/m);
      expect(edited).not.toMatch(/^boot_protocol/m);
      return edited;
    });
    const { stdout, status } = expected(hostHasGbPages());
    const result = await tsvisor(['run', path]);
    expect(result.stdout, outcomeOf(result)).toBe(stdout);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(status);
  });

  it('boots directly (boot_protocol = "multiboot", no BIOS): tsvisor enters it at 0x200000 in 32-bit mode, the same', async () => {
    const path = variant('direct', (config) => {
      const edited = config.replace(/^enable_bios = true\n/m, '').replace(/^entry_point = 0x8000$/m, 'entry_point = 0x20_0000');
      expect(edited).not.toMatch(/^enable_bios/m);
      expect(edited).toMatch(/^entry_point = 0x20_0000$/m);
      expect(edited).toMatch(/^boot_protocol = "multiboot"$/m);
      return edited;
    });
    const { stdout, status } = expected(hostHasGbPages());
    const result = await tsvisor(['run', path]);
    expect(result.stdout, outcomeOf(result)).toBe(stdout);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(status);
  });
});
