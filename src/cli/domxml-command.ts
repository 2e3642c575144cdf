/**
 * tsvisor domxml-to-toml <domain.xml> and tsvisor domxml-from-toml <config.toml>: one format
 * to the other on stdout, with what does not carry over (as comments in the TOML, on stderr
 * for the XML, which has no room for them before its root element is read by libvirt).
 */
import { writeSync } from 'node:fs';
import { loadVmConfig } from '../config/load-config.js';
import { ExitStatus } from '../errors.js';
import { loadDomainConfig } from '../libvirt/domain-config.js';
import { domainToToml } from '../libvirt/domxml-to-toml.js';
import { tomlToDomain } from '../libvirt/domxml-from-toml.js';
import { DOMXML_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { UsageError } from './usage-error.js';

export async function domxmlCommand(direction: 'to-toml' | 'from-toml', args: readonly string[]): Promise<number> {
  const command = `domxml-${direction}`;
  const { values, positionals } = parseCommandOptions(command, args, { help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    writeSync(1, DOMXML_HELP);
    return ExitStatus.ok;
  }
  const input = direction === 'to-toml' ? '<domain.xml>' : '<config.toml>';
  if (positionals.length !== 1) throw new UsageError(`tsvisor ${command} takes one file, ${positionals.length === 0 ? 'but none was given' : `but ${positionals.length} were given`}. Usage: tsvisor ${command} ${input}.`);
  const path = positionals[0] as string;
  if (direction === 'to-toml') {
    writeSync(1, domainToToml(loadDomainConfig(path)));
    return ExitStatus.ok;
  }
  const { xml, lost } = tomlToDomain(loadVmConfig(path));
  writeSync(1, xml);
  if (lost.length > 0) writeSync(2, `tsvisor: what ${path} says that the domain does not:\n${lost.map((line) => `  - ${line}\n`).join('')}`);
  return ExitStatus.ok;
}
