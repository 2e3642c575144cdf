/**
 * libvirt's scaled integers (formatdomain, "Memory Allocation"; virScaleInteger): a value and
 * a unit, "b"/"bytes", decimal KB, MB, GB, TB, PB, EB and binary k/KiB, M/MiB, G/GiB, T/TiB,
 * P/PiB, E/EiB, case-insensitively for the first letter as libvirt takes them; KiB when no
 * unit is given. Memory sizes are kept in KiB, rounded up, as libvirt keeps them
 * (`virsh -c test:///default` defines 1500 b as 2 KiB and 1500 KB as 1465 KiB).
 */
export class UnitError extends Error {}

const BINARY: Record<string, number> = { k: 1, m: 2, g: 3, t: 4, p: 5, e: 6 };

/** The multiplier of `unit`, in bytes. */
export function unitScale(unit: string): bigint {
  const lower = unit.toLowerCase();
  if (lower === 'b' || lower === 'bytes') return 1n;
  const power = BINARY[lower[0] ?? ''];
  if (power !== undefined) {
    const rest = unit.slice(1);
    if (rest === '' || rest === 'iB' || rest === 'ib') return 1024n ** BigInt(power);
    if (rest === 'B') return 1000n ** BigInt(power);
  }
  throw new UnitError(`unknown suffix '${unit}'`);
}

/** A scaled integer in KiB, rounded up; `max` (in bytes) bounds it as libvirt's "numerical overflow" does. */
export function scaledKibibytes(value: string, unit: string | undefined, max: bigint): bigint {
  if (!/^\d+$/.test(value.trim())) throw new UnitError(`Invalid value '${value}'`);
  const scale = unitScale(unit ?? 'KiB');
  const bytes = BigInt(value.trim()) * scale;
  if (bytes > max) throw new UnitError(`numerical overflow: value too large: ${value.trim()}${unit ?? ''}`);
  return (bytes + 1023n) / 1024n;
}
