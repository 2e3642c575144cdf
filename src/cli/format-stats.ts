/** The --stats table: exits per vCPU and reason, accesses per device, and the time spent on each. */
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
  return `${lines.join('\n')}\n`;
}
