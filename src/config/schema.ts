/**
 * The keys of an AxVisor VM config (the axvmconfig crate, versions 0.2 to 0.8), and of
 * tsvisor's own [tsvisor] table, for
 * spotting keys tsvisor does not know (a warning with a did-you-mean, since AxVisor
 * ignores them too) and the old flat format without sections (an error that explains).
 */
import { ConfigError } from './config-error.js';
import { isTable, type ConfigSource } from './config-source.js';
import { nearest } from './spelling.js';
import { TSVISOR_KEYS } from './tsvisor-section.js';

export const KNOWN_KEYS: Readonly<Record<string, readonly string[]>> = {
  base: ['id', 'name', 'vm_type', 'cpu_num', 'phys_cpu_ids', 'phys_cpu_sets'],
  kernel: [
    'entry_point', 'kernel_path', 'kernel_load_addr', 'memory_regions', 'image_location',
    'bios_path', 'bios_load_addr', 'dtb_path', 'dtb_load_addr', 'ramdisk_path', 'ramdisk_load_addr',
    'cmdline', 'disk_path', 'enable_bios', 'boot_protocol', 'uefi_firmware_path',
  ],
  devices: [
    'emu_devices', 'passthrough_devices', 'interrupt_mode', 'passthrough_addresses', 'passthrough_ports',
    'excluded_devices', 'address_space_policy',
  ],
  // tsvisor's own keys (tsvisor-section.ts), which AxVisor ignores.
  tsvisor: TSVISOR_KEYS,
};

/**
 * Earlier AxVisor releases wrote every key at the top level. If the document has no
 * sections but such keys, say which section each belongs in.
 */
export function rejectFlatFormat(source: ConfigSource): void {
  const topLevel = Object.keys(source.document);
  if (topLevel.some((key) => knownKeysOf(key) !== undefined)) return;
  const placed = Object.entries(KNOWN_KEYS)
    .map(([section, keys]) => [section, keys.filter((key) => topLevel.includes(key))] as const)
    .filter(([, keys]) => keys.length > 0);
  if (placed.length === 0) return;
  const first = topLevel.find((key) => placed.some(([, keys]) => keys.includes(key))) as string;
  const moves = placed.map(([section, keys]) => `put ${keys.join(', ')} under [${section}]`).join('; ');
  throw new ConfigError(
    source.displayPath,
    source.locateKey(first),
    undefined,
    'this is the old flat AxVisor config format, with every key at the top level; current AxVisor and tsvisor read configs with [base], [kernel] and [devices] sections.',
    `To convert it, ${moves}; see configs/hello-x86_64.toml for the layout.`,
  );
}

/**
 * AxVisor's two newer config formats (rcore-os/tgoskits, virtualization/axvmconfig) replace
 * keys tsvisor requires, so without this a user would read "vm_type is missing". Say which
 * format it is, and how to write it in the one tsvisor reads.
 */
export function rejectNewerFormats(source: ConfigSource): void {
  const document = source.document as Record<string, unknown>;
  const table = (name: string) => (typeof document[name] === 'object' && document[name] !== null ? (document[name] as Record<string, unknown>) : undefined);
  const [machine, memory, base, devices] = [table('machine'), table('memory'), table('base'), table('devices')];
  if (machine !== undefined || memory?.regions !== undefined) {
    throw new ConfigError(
      source.displayPath,
      source.locateKey(machine !== undefined ? 'machine' : 'memory'),
      machine !== undefined ? 'machine' : 'memory.regions',
      'this is AxVisor\'s machine-profile config format ([machine], [[memory.regions]] with guest_base, size, permissions and backing, [[devices.virtual]]), newer than the axvmconfig format tsvisor reads.',
      'To convert it, drop [machine]; write each region as [kernel] memory_regions = [[guest_base, size, 0x7 for "rwx" (0x3 for "rw"), 0 for backing "allocate" or 1 for "identity-allocate"]]; set vm_type = 1 in [base]; and give [devices] emu_devices = [] and passthrough_devices = [] (COM1, the IO APIC and the PIT are always there).',
    );
  }
  const guestType = base?.guest_type !== undefined && base.vm_type === undefined;
  const newDevices = devices !== undefined && ['passthrough', 'disabled', 'virtual'].some((key) => key in devices) && !('emu_devices' in devices);
  if (guestType || newDevices) {
    throw new ConfigError(
      source.displayPath,
      source.locateKey(guestType ? 'base.guest_type' : 'devices'),
      guestType ? 'base.guest_type' : 'devices',
      'this is AxVisor\'s GuestConfig format (guest_type, [devices] passthrough and disabled, [[devices.virtual]]), newer than the axvmconfig format tsvisor reads.',
      'To convert it, replace guest_type with vm_type = 1, and [devices] passthrough, disabled and [[devices.virtual]] with emu_devices = [] and passthrough_devices = [] (COM1, the IO APIC and the PIT are always there); tsvisor passes no host device through.',
    );
  }
}

/** Warns about each key and table tsvisor does not know, suggesting the nearest known name. */
export function warnUnknownKeys(source: ConfigSource): void {
  for (const [key, value] of Object.entries(source.document)) {
    const known = knownKeysOf(key);
    if (!known) {
      unknown(source, key, key, Object.keys(KNOWN_KEYS));
      continue;
    }
    if (!isTable(value)) continue;
    for (const inner of Object.keys(value)) {
      if (!known.includes(inner)) unknown(source, `${key}.${inner}`, inner, known);
    }
  }
}

/**
 * The keys a known table may hold. Own properties only: a table named after a JavaScript
 * built-in ([constructor], [toString], [__proto__]) is an unknown table like any other.
 */
function knownKeysOf(table: string): readonly string[] | undefined {
  return Object.hasOwn(KNOWN_KEYS, table) ? KNOWN_KEYS[table] : undefined;
}

function unknown(source: ConfigSource, path: string, key: string, candidates: readonly string[]): void {
  const suggestion = nearest(key, candidates);
  const hint = suggestion ? ` Did you mean ${suggestion}?` : '';
  source.warn(path, `tsvisor does not know this key and ignores it, as AxVisor does.${hint}`, source.locateKey(path));
}
