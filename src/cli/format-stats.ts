/**
 * The --stats table: exits per vCPU and reason, accesses per device, the time spent on each,
 * then, when there are any, coalesced interrupts, interrupt messages no Local APIC accepted and
 * the HLTs tsvisor completed for a host CPU that ignores STI's shadow.
 */
import type { VmStats } from '../vmm/vm-stats.js';

export function formatStats(stats: VmStats): string {
  const time = (milliseconds: number) => (stats.timed ? `${milliseconds.toFixed(3)} ms` : '-');
  const rows = (header: string[], body: string[][]) => {
    const widths = header.map((_, column) => Math.max(...[header, ...body].map((row) => (row[column] ?? '').length)));
    return [header, ...body].map((row) => `  ${row.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] as number) : cell.padStart(widths[column] as number))).join('  ')}`);
  };
  const lines = [
    'tsvisor: statistics',
    'Exits',
    ...rows(['vCPU / reason', 'count', 'time'], stats.exits.map((exit) => [`vCPU ${exit.vcpu} ${exit.reason}`, String(exit.count), time(exit.milliseconds)])),
    'Device accesses',
    ...rows(['device', 'reads', 'writes', 'time'], stats.devices.map((d) => [d.device, String(d.reads), String(d.writes), time(d.milliseconds)])),
  ];
  const { coalesced, hpetPeriodsCoalesced, pitPeriodsCoalesced } = stats.interrupts;
  if (coalesced.length + hpetPeriodsCoalesced.length + pitPeriodsCoalesced > 0) {
    lines.push(
      'Interrupts coalesced (merged with one of the same vector still pending, or periods of a timer serviced late)',
      ...rows(
        ['source', 'count'],
        [
          ...coalesced.map((c) => [`vCPU ${c.vcpu} vector 0x${c.vector.toString(16)}`, String(c.count)]),
          ...hpetPeriodsCoalesced.map((h) => [`HPET timer ${h.timer} periods`, String(h.count)]),
          ...(pitPeriodsCoalesced > 0 ? [['PIT channel 0 periods', String(pitPeriodsCoalesced)]] : []),
        ],
      ),
    );
  }
  const { undelivered } = stats.interrupts;
  if (undelivered > 0) lines.push(`Interrupt messages no Local APIC accepted (none addressed, or all disabled): ${undelivered}`);
  if (stats.stiShadowHalts > 0) {
    lines.push(
      `HLTs completed because the host CPU opened an interrupt window inside STI's shadow (QEMU's software SVM before 9.1; hardware never does): ${stats.stiShadowHalts}`,
    );
  }
  return `${lines.join('\n')}\n`;
}
