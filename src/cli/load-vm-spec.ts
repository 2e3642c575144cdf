/**
 * The VmSpec of a config file, whichever front end's format it is in: libvirt domain XML
 * (recognised by content: its first character opens a tag) or AxVisor TOML.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { loadVmConfig } from '../config/load-config.js';
import type { VmSpec } from '../config/vm-spec.js';
import { loadDomainConfig, looksLikeXml, type DomainConfig } from '../libvirt/domain-config.js';

export type LoadedConfig = { readonly format: 'toml'; readonly spec: VmSpec } | { readonly format: 'domain-xml'; readonly spec: VmSpec; readonly domain: DomainConfig };

export function loadConfigFile(path: string): LoadedConfig {
  if (looksLikeXml(firstBytes(path))) {
    const domain = loadDomainConfig(path);
    return { format: 'domain-xml', spec: domain.spec, domain };
  }
  return { format: 'toml', spec: loadVmConfig(path) };
}

/** The file's first bytes, enough to tell XML from TOML; "" when it cannot be read (the loader says why). */
function firstBytes(path: string): string {
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
    const buffer = Buffer.alloc(256);
    const count = readSync(fd, buffer, 0, buffer.length, 0);
    // A leading comment or processing instruction opens a tag too.
    return buffer.subarray(0, count).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
