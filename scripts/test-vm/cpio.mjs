// The initramfs format: a "newc" cpio archive (the kernel's Documentation/driver-api/early-userspace/
// buffer-format.rst). Written here rather than with cpio(1) so that the archive can hold a device
// node (/dev/console, which the kernel opens for init before any devtmpfs exists) without root.

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFCHR = 0o020000;

/** An archive entry: a directory, a regular file with its bytes, or a character device. */
export const directory = (name) => ({ name, mode: S_IFDIR | 0o755, data: new Uint8Array(0) });
export const file = (name, data, executable = false) => ({ name, mode: S_IFREG | (executable ? 0o755 : 0o644), data });
export const characterDevice = (name, major, minor) => ({ name, mode: S_IFCHR | 0o600, data: new Uint8Array(0), major, minor });

const hex8 = (value) => value.toString(16).padStart(8, '0');
const padTo4 = (length) => (4 - (length % 4)) % 4;

/** The entries as one newc archive, ended by the TRAILER!!! record. */
export function newcArchive(entries) {
  const parts = [];
  let inode = 1;
  for (const entry of [...entries, { name: 'TRAILER!!!', mode: 0, data: new Uint8Array(0) }]) {
    const name = Buffer.from(`${entry.name}\0`);
    const header = Buffer.from(
      '070701' +
        [
          entry.name === 'TRAILER!!!' ? 0 : inode++,
          entry.mode,
          0, // uid
          0, // gid
          entry.mode & S_IFDIR ? 2 : 1, // links
          0, // mtime
          entry.data.length,
          0, // device major
          0, // device minor
          entry.major ?? 0, // the node's own major
          entry.minor ?? 0,
          name.length,
          0, // checksum (unused by newc)
        ]
          .map(hex8)
          .join(''),
    );
    parts.push(header, name, Buffer.alloc(padTo4(header.length + name.length)), entry.data, Buffer.alloc(padTo4(entry.data.length)));
  }
  return Buffer.concat(parts);
}
