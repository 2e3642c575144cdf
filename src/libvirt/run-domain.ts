/**
 * How a libvirt domain runs under `tsvisor run`: its QEMU command line's serial port, monitors
 * and -S (through the QEMU front end's run plan), with libvirt's lifecycle actions in place of
 * QEMU's -no-reboot and -no-shutdown: destroy ends the VM, restart resets and boots it again,
 * preserve keeps it stopped for inspection (its state then "shutdown", or "internal-error"
 * after a crash) until a reset or the end. A running VM answers tsvisor domain's operations as
 * this domain.
 */
import { qemuRunPlan } from '../qemu/run-qemu.js';
import { monitorPlanOf } from '../qemu/monitor-plan.js';
import type { DomainView } from '../qmp/machine.js';
import { NO_UUID } from '../qmp/vm-adapter.js';
import type { GuestAction } from '../vmm/vcpu/vcpu-loop.js';
import type { Vm } from '../vmm/vm.js';
import type { DomainConfig } from './domain-config.js';
import type { DomainDefinition, LifecycleAction } from './domain.js';
import { domainDefinitionOf } from './domxml-from-toml.js';
import { LiveDomain } from './live-domain.js';

const ACTIONS: Record<LifecycleAction, GuestAction> = { destroy: 'exit', restart: 'reset', preserve: 'pause' };

/** What Ctrl-A x prints under tsvisor run. */
export const TSVISOR_MUX_QUIT = 'tsvisor: terminated (Ctrl-A x)\n\r';

export function domainRunPlan(config: DomainConfig) {
  const { machine, domain } = config;
  const monitors = monitorPlanOf(machine);
  const plan = qemuRunPlan(machine, monitors);
  return {
    ...plan,
    terminal: plan.terminal.kind === 'mux' ? { ...plan.terminal, quitText: TSVISOR_MUX_QUIT } : plan.terminal,
    onGuestReset: ACTIONS[domain.onReboot],
    onGuestPowerOff: ACTIONS[domain.onPoweroff],
    onGuestCrash: ACTIONS[domain.onCrash],
    domain: (vm: Vm) => liveDomain(vm, domain),
  };
}

/** The running VM of a TOML config, as the domain its config translates to (domxml-from-toml). */
export function tomlDomainView(vm: Vm): DomainView {
  return liveDomain(vm, { ...domainDefinitionOf(vm.spec), uuid: NO_UUID });
}

function liveDomain(vm: Vm, definition: DomainDefinition): DomainView {
  return new LiveDomain(vm, definition);
}
