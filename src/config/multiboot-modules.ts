/**
 * [tsvisor] modules: the multiboot modules a kernel is given, in order, each a file loaded
 * whole at its address and listed in the multiboot information with its string (Multiboot
 * 0.6.96 section 3.3: mods_count, mods_addr; each entry mod_start, mod_end, string):
 *
 *   modules = [
 *       { path = "init.bin", load_addr = 0x20_6000, cmdline = "init.bin --verbose" },
 *       { path = "fs.img", load_addr = 0x20_8000 },       # its string: "fs.img", the path as written
 *   ]
 *
 * (or as [[tsvisor.modules]] tables). QEMU's -initrd "file args,file args" is this list
 * (qemu/initrd-option.ts). kernel.ramdisk_path, when set, is the first module, with its file
 * name as its string; these follow it. The files are found as the kernel's images are
 * (image_location); an empty file is a module too, as in QEMU.
 */
import { isTable, type ConfigSource, type Table } from './config-source.js';

export const MODULES_KEY = 'tsvisor.modules';
const ENTRY_KEYS = ['path', 'load_addr', 'cmdline'];

export interface ModuleEntry {
  /** "tsvisor.modules[1].path" */
  readonly keyPath: string;
  readonly addressKey: string;
  /** The file as the config names it. */
  readonly name: string;
  readonly loadAddress: bigint;
  /** The module's string in the multiboot information. */
  readonly string: string;
}

export function readModuleEntries(source: ConfigSource): ModuleEntry[] {
  const section = source.document.tsvisor;
  const value = isTable(section) ? section.modules : undefined;
  if (value === undefined) return [];
  return source.array(value, MODULES_KEY).map((entry, index) => {
    const path = `${MODULES_KEY}[${index}]`;
    if (!isTable(entry)) {
      throw source.error(path, 'expected a table such as { path = "module.bin", load_addr = 0x20_6000 }.', 'Give each module as { path = ..., load_addr = ..., cmdline = ... } (cmdline is optional).');
    }
    const unknown = Object.keys(entry).find((key) => !ENTRY_KEYS.includes(key));
    if (unknown) throw source.error(`${path}.${unknown}`, `a module has no key ${unknown}.`, 'Give path, load_addr and, optionally, cmdline.');
    const name = source.string(source.required(entry, path, 'path'), `${path}.path`);
    const loadAddress = source.bigInteger(source.required(entry, path, 'load_addr'), `${path}.load_addr`, { max: 2n ** 64n - 1n });
    return { keyPath: `${path}.path`, addressKey: `${path}.load_addr`, name, loadAddress, string: moduleString(source, entry, path, name) };
  });
}

function moduleString(source: ConfigSource, entry: Table, path: string, name: string): string {
  if (entry.cmdline === undefined) return name;
  const text = source.string(entry.cmdline, `${path}.cmdline`);
  // The multiboot information holds C strings (section 3.3): a NUL would end this one early.
  if (text.includes('\0')) throw source.error(`${path}.cmdline`, 'the string holds a NUL character, which would end it early in the multiboot information.', 'Remove the \\u0000.');
  return text;
}
