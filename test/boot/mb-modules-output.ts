/** What guests/mb-modules prints for the modules it finds, computed here from their bytes for exact comparison. */

/** FNV-1a, 32-bit, as the guest hashes a module's bytes. */
function fnv1a(bytes: Uint8Array): string {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193) >>> 0;
  return `0x${hash.toString(16)}`;
}

/** The guest's line for module `index`: its size, hash, string and first 24 bytes (\xNN outside printable ASCII, and for " and \). */
export function moduleLine(index: number, bytes: Uint8Array, string: string): string {
  const printable = (byte: number) => byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c;
  const head = [...bytes.subarray(0, 24)].map((byte) => (printable(byte) ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, '0')}`)).join('');
  return `module ${index}: size=${bytes.length} fnv1a=${fnv1a(bytes)} string="${string}" head="${head}"`;
}

/** The guest's last line when every module is page-aligned, after the kernel and after the one before. */
export const LAYOUT_OK = 'layout: page-aligned=yes after-kernel=yes in-order=yes';
