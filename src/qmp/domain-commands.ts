/**
 * tsvisor's own QMP commands, for the libvirt-style domain operations of `tsvisor domain`
 * (docs/qmp.md): named with QEMU's "x-" prefix for commands outside its stable schema. Each
 * answers GenericError with libvirt's words when the operation cannot be done.
 */
import type { JsonValue } from './json-value.js';
import type { QmpCommand } from './commands.js';
import { genericError } from './qmp-error.js';

export const DOMAIN_COMMANDS: readonly (readonly [string, QmpCommand])[] = [
  [
    'x-tsvisor-query-domain',
    {
      parameters: [{ name: 'inactive', type: 'bool', optional: true }],
      run: (args, { actions }) => {
        const domain = domainOf(actions.machine.domain);
        const info = domain.info();
        return {
          xml: domain.dumpxml(args.get('inactive') === true),
          id: info.id,
          vcpus: info.vcpus,
          'cpu-time-ns': info.cpuTimeNs,
          'max-memory-kib': Number(info.maxMemoryKib),
          'used-memory-kib': Number(info.usedMemoryKib),
        } satisfies JsonValue;
      },
    },
  ],
  [
    'x-tsvisor-set-vcpus',
    {
      parameters: [
        { name: 'count', type: 'int' },
        { name: 'live', type: 'bool', optional: true },
        { name: 'config', type: 'bool', optional: true },
        { name: 'maximum', type: 'bool', optional: true },
      ],
      run: (args, { actions }) => {
        const flags = { live: args.get('live') === true, config: args.get('config') === true, maximum: args.get('maximum') === true };
        attempt(() => domainOf(actions.machine.domain).setVcpus(Number(args.get('count') as bigint), flags));
        return {};
      },
    },
  ],
  [
    'x-tsvisor-set-memory',
    {
      parameters: [
        { name: 'kib', type: 'int' },
        { name: 'live', type: 'bool', optional: true },
        { name: 'config', type: 'bool', optional: true },
      ],
      run: (args, { actions }) => {
        attempt(() => domainOf(actions.machine.domain).setMemory(args.get('kib') as bigint, { live: args.get('live') === true, config: args.get('config') === true }));
        return {};
      },
    },
  ],
];

function domainOf<T>(domain: T | undefined): T {
  if (domain === undefined) throw genericError('this VM has no domain view');
  return domain;
}

function attempt(operation: () => void): void {
  try {
    operation();
  } catch (error) {
    throw genericError((error as Error).message);
  }
}
