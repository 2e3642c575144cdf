/** tsvisor check: validates a config without starting a VM, and prints the machine it describes. */
import { ConfigError } from '../config/config-error.js';
import type { VmSpec } from '../config/vm-spec.js';
import { vcpuCpuid } from '../boot/cpuid.js';
import { ExitStatus, TsvisorError } from '../errors.js';
import { DomainXmlError } from '../libvirt/domain-xml-error.js';
import * as kvm from '../kvm/index.js';
import { describeBoot, describeVm, type CpuidReport } from './describe-vm.js';
import { loadConfigFile } from './load-vm-spec.js';
import { CHECK_HELP } from './help.js';
import { parseCommandOptions } from './parse-options.js';
import { UsageError } from './usage-error.js';
import { writeOutput } from './write-output.js';

/** The status of an invalid config (a usage error is 2). */
const INVALID = 1;

export async function checkCommand(args: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandOptions('check', args, {
    help: { type: 'boolean', short: 'h' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    writeOutput(1, CHECK_HELP);
    return ExitStatus.ok;
  }
  if (positionals.length !== 1) {
    throw new UsageError(
      `tsvisor check takes one config file, ${positionals.length === 0 ? 'but none was given' : `but ${positionals.length} were given`}. Usage: tsvisor check <config.toml> [--json].`,
    );
  }
  const path = positionals[0] as string;
  try {
    const { spec } = loadConfigFile(path);
    const cpuid = cpuidReport(spec.cpuFeatures);
    if (values.json) {
      writeOutput(1, `${JSON.stringify({ valid: true, ...spec, bootPlan: describeBoot(spec), cpuid }, null, 2)}\n`);
    } else {
      writeOutput(1, `${path}: valid\n\n${describeVm(spec, cpuid)}`);
    }
    return ExitStatus.ok;
  } catch (error) {
    if (error instanceof DomainXmlError) {
      if (values.json) writeOutput(1, `${JSON.stringify({ valid: false, error: { message: error.message } }, null, 2)}\n`);
      else writeOutput(2, `tsvisor: ${error.message}\n`);
      return INVALID;
    }
    if (!(error instanceof ConfigError)) throw error;
    if (values.json) {
      const { file, location, keyPath, problem, fix, message } = error;
      writeOutput(1, `${JSON.stringify({ valid: false, error: { file, ...location, keyPath, problem, fix, message } }, null, 2)}\n`);
    } else {
      writeOutput(2, `tsvisor: ${error.message}\n`);
    }
    return INVALID;
  }
}

/** vCPU 0's CPUID changes need KVM's supported CPUID: asked for without creating a VM. */
function cpuidReport(features: VmSpec['cpuFeatures']): CpuidReport {
  let system: kvm.Kvm | undefined;
  try {
    system = kvm.Kvm.open();
    const vm = system.createVm();
    try {
      const vcpu = vm.createVcpu(0);
      try {
        return { changes: vcpuCpuid(system.getSupportedCpuid(), { apicId: 0, tscKhz: vcpu.getTscKhz(), features }).changes };
      } finally {
        vcpu.close();
      }
    } finally {
      vm.close();
    }
  } catch (error) {
    if (!(error instanceof TsvisorError)) throw error;
    return { unavailable: `not shown: ${error.message}` };
  } finally {
    system?.close();
  }
}
