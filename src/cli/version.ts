/** tsvisor's version, from package.json (two folders up from here, as from dist/bundle/). */
import { readFileSync } from 'node:fs';

export function tsvisorVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}
