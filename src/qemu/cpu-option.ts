/**
 * -cpu host|max[,+feat,-feat,feat=on|off]. Both models are what KVM supports, the CPUID
 * tsvisor starts from (boot/cpuid.ts). As in QEMU 7.2 (target/i386/cpu.c,
 * x86_cpu_parse_featurestr), `feat=on|off` settings apply first, in order, then every
 * `+feat`, then every `-feat`, so a `-feat` always wins.
 */
import { canonicalFeatureName, cannotEnable, type CpuFeatureSetting } from '../boot/cpu-features.js';
import { parseBoolean } from './keyval.js';
import { QemuError } from './qemu-error.js';

const MODELS = ['host', 'max'];

export function parseCpu(text: string): CpuFeatureSetting[] {
  const option = `-cpu ${text}`;
  // Feature lists have no ",," escapes and no implied key past the model.
  const [model = '', ...features] = text.split(',');
  if (!MODELS.includes(model)) {
    throw new QemuError(option, `tsvisor has no CPU model '${model}': its vCPUs are the host's CPU as KVM offers it, QEMU's host (or max) model. Use -cpu host, with +feature or -feature to change it.`);
  }
  const properties = new Map<string, boolean>();
  const plus: string[] = [];
  const minus: string[] = [];
  for (const feature of features) {
    if (feature === '') continue;
    const sign = feature[0];
    const [rawName = '', value] = sign === '+' || sign === '-' ? [feature.slice(1)] : feature.split('=', 2);
    const name = canonicalFeatureName(rawName);
    if (name === undefined) throw new QemuError(undefined, `can't apply global ${model}-x86_64-cpu.${rawName}=${value ?? 'on'}: Property '${model}-x86_64-cpu.${rawName}' not found`);
    if (sign === '+') plus.push(name);
    else if (sign === '-') minus.push(name);
    else properties.set(name, value === undefined ? true : parseBoolean(`can't apply global ${model}-x86_64-cpu.${rawName}=${value}`, rawName, value));
  }
  for (const name of plus) properties.set(name, true);
  for (const name of minus) properties.set(name, false);
  const settings = [...properties].map(([name, enabled]) => ({ name, enabled }));
  const refused = settings.find(({ name, enabled }) => enabled && cannotEnable(name) !== undefined);
  if (refused) throw new QemuError(option, `${refused.name} cannot be turned on: ${cannotEnable(refused.name)}.`);
  return settings.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
