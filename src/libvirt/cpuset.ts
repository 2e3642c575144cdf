/**
 * libvirt's CPU list syntax (formatdomain, vcpu's cpuset): comma-separated CPU numbers and
 * ranges "a-b", with "^n" excluding one again: "1-4,^3,6" is CPUs 1, 2, 4 and 6. Parsed as
 * libvirt's virBitmapParse does; a list it cannot parse gets its words ("Failed to parse
 * bitmap '4-1'", and "Invalid value of 'cpuset': ^3" for a list that names no CPU). libvirt writes a set back in the shortest form: "1-2,4,6".
 */
export class CpusetError extends Error {}

/** libvirt's bitmaps stop here (VIR_DOMAIN_CPUMASK_LEN). */
const CPU_LIMIT = 16384;

export function parseCpuset(text: string): number[] {
  const fail = () => new CpusetError(`Failed to parse bitmap '${text}'`);
  const included = new Set<number>();
  const excluded = new Set<number>();
  for (const rawPart of text.split(',')) {
    const part = rawPart.trim();
    const exclude = part.startsWith('^');
    const body = exclude ? part.slice(1) : part;
    const range = /^(\d+)(?:-(\d+))?$/.exec(body);
    if (!range) throw fail();
    const first = Number(range[1]);
    const last = range[2] === undefined ? first : Number(range[2]);
    if (last < first || last >= CPU_LIMIT || (exclude && range[2] !== undefined)) throw fail();
    for (let cpu = first; cpu <= last; cpu++) (exclude ? excluded : included).add(cpu);
  }
  const cpus = [...included].filter((cpu) => !excluded.has(cpu)).sort((a, b) => a - b);
  if (cpus.length === 0) throw new CpusetError(`Invalid value of 'cpuset': ${text}`);
  return cpus;
}

/** The set in libvirt's shortest form: "1-2,4,6". */
export function formatCpuset(cpus: readonly number[]): string {
  const parts: string[] = [];
  for (let index = 0; index < cpus.length; ) {
    let end = index;
    while (end + 1 < cpus.length && (cpus[end + 1] as number) === (cpus[end] as number) + 1) end++;
    parts.push(end === index ? `${cpus[index]}` : `${cpus[index]}-${cpus[end]}`);
    index = end + 1;
  }
  return parts.join(',');
}
