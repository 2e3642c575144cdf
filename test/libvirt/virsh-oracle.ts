/**
 * libvirt's own answers, for tests that compare: `virsh -c test:///default` (libvirt's test
 * driver, no daemon) defines a domain and dumps it back, with libvirt's defaults and units;
 * xmllint validates against libvirt's RelaxNG schema. Without them the comparisons skip, loudly.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'vitest';

export const DOMAIN_SCHEMA = '/usr/share/libvirt/schemas/domain.rng';
export const virshInstalled = spawnSync('virsh', ['--version']).status === 0;
export const xmllintInstalled = spawnSync('xmllint', ['--version']).status === 0 && spawnSync('test', ['-f', DOMAIN_SCHEMA]).status === 0;
if (!virshInstalled) console.warn('\n*** LIBVIRT ORACLE TESTS SKIPPED: virsh is not installed (apt-get install libvirt-clients) ***\n');
if (!xmllintInstalled) console.warn(`\n*** LIBVIRT SCHEMA TESTS SKIPPED: xmllint or ${DOMAIN_SCHEMA} is missing (apt-get install libxml2-utils libvirt-clients) ***\n`);
export const describeWithVirsh = virshInstalled ? describe : describe.skip;
export const describeWithSchema = xmllintInstalled ? describe : describe.skip;

/** What `virsh define` then `dumpxml` print for a domain (the test driver's name must be unique per call), or its error lines. */
export function virshDefine(xml: string, name: string): { dumped: string; errors: string } {
  const folder = mkdtempSync(join(tmpdir(), 'virsh-'));
  try {
    const file = join(folder, 'domain.xml');
    writeFileSync(file, xml);
    const result = spawnSync('virsh', ['-q', '-c', 'test:///default', `define ${file}; dumpxml ${name}`], { encoding: 'utf8' });
    const errors = `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.startsWith('error: ') && !line.includes('failed to get domain') && !line.includes('Failed to define domain'));
    return { dumped: result.stdout, errors: errors.map((line) => line.slice('error: '.length)).join('\n') };
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** xmllint's verdict on `xml` against libvirt's domain schema: "" when it validates, its complaints otherwise. */
export function schemaErrors(xml: string): string {
  const folder = mkdtempSync(join(tmpdir(), 'rng-'));
  try {
    const file = join(folder, 'domain.xml');
    writeFileSync(file, xml);
    const result = spawnSync('xmllint', ['--noout', '--relaxng', DOMAIN_SCHEMA, file], { encoding: 'utf8' });
    return result.status === 0 ? '' : result.stderr;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}
