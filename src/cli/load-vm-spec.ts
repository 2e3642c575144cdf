/**
 * The VmSpec of a config file, whichever front end's format it is in: libvirt domain XML
 * (recognised by content: its first character opens a tag) or AxVisor TOML.
 */
import { closeSync, readSync } from 'node:fs';
import { loadVmConfig } from '../config/load-config.js';
import type { VmSpec } from '../config/vm-spec.js';
import { openRegularFile, type RegularFile } from '../host/regular-file.js';
import { loadDomainConfig, looksLikeXml, type DomainConfig } from '../libvirt/domain-config.js';

export type LoadedConfig = { readonly format: 'toml'; readonly spec: VmSpec } | { readonly format: 'domain-xml'; readonly spec: VmSpec; readonly domain: DomainConfig };

export function loadConfigFile(path: string): LoadedConfig {
  if (looksLikeXml(firstBytes(path))) {
    const domain = loadDomainConfig(path);
    return { format: 'domain-xml', spec: domain.spec, domain };
  }
  return { format: 'toml', spec: loadVmConfig(path) };
}

/**
 * The file's first bytes, enough to tell XML from TOML (a leading comment or processing
 * instruction opens a tag too); "" when it is not a regular file that can be read, for the
 * TOML loader to say why. A FIFO or a device is never opened for a read that could block.
 */
function firstBytes(path: string): string {
  let file: RegularFile | undefined;
  try {
    file = openRegularFile(path);
    const buffer = Buffer.alloc(256);
    const count = readSync(file.fd, buffer, 0, buffer.length, 0);
    return buffer.subarray(0, count).toString('utf8');
  } catch {
    return '';
  } finally {
    if (file) closeSync(file.fd);
  }
}
