#!/usr/bin/env node
/**
 * tsvisor's command line. Start-up time is a feature: this file imports nothing heavy,
 * and each command loads its own modules when it runs. `run` starts its first vCPU thread
 * first of all, so that the thread boots while the main thread reads the config.
 */
import { ExitStatus, TsvisorError } from './errors.js';
import { GENERAL_HELP } from './cli/help.js';
import { UsageError } from './cli/usage-error.js';
import { outputErrorOf, writeOutput } from './cli/write-output.js';
import { dismissIdleVcpuThreads, prestartVcpuThread } from './vmm/vcpu-threads.js';

async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
      writeOutput(2, GENERAL_HELP);
      return ExitStatus.badInput;
    case '-h':
    case '--help':
    case 'help':
      writeOutput(1, GENERAL_HELP);
      return ExitStatus.ok;
    case '-V':
    case '--version': {
      const { tsvisorVersion } = await import('./cli/version.js');
      writeOutput(1, `tsvisor ${tsvisorVersion()}\n`);
      return ExitStatus.ok;
    }
    case 'run': {
      if (!rest.some((arg) => arg === '-h' || arg === '--help')) prestartVcpuThread();
      try {
        const { runCommand } = await import('./cli/run-command.js');
        return await runCommand(rest);
      } finally {
        await dismissIdleVcpuThreads();
      }
    }
    case 'check': {
      const { checkCommand } = await import('./cli/check-command.js');
      return checkCommand(rest);
    }
    case 'qemu': {
      const { asksForTextOnly, qemuCommand } = await import('./qemu/qemu-command.js');
      if (!asksForTextOnly(rest)) prestartVcpuThread();
      try {
        return await qemuCommand(rest);
      } finally {
        await dismissIdleVcpuThreads();
      }
    }
    case 'domain': {
      const { domainCommand } = await import('./cli/domain-command.js');
      return domainCommand(rest);
    }
    case 'domxml-to-toml':
    case 'domxml-from-toml': {
      const { domxmlCommand } = await import('./cli/domxml-command.js');
      return domxmlCommand(command === 'domxml-to-toml' ? 'to-toml' : 'from-toml', rest);
    }
    case 'qmp': {
      const { qmpCommand } = await import('./cli/qmp-command.js');
      return qmpCommand(rest);
    }
    case 'bench': {
      const { benchCommand } = await import('./cli/bench-command.js');
      return benchCommand(rest);
    }
    default:
      throw new UsageError(`'${command}' is not a tsvisor command. The commands are: run, check, qemu, qmp, domain, domxml-to-toml, domxml-from-toml, bench. See \`tsvisor --help\`.`);
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    // A failed write to stdout or stderr (a full disk, a closed pipe) is the environment's doing, not a bug.
    const known = error instanceof TsvisorError ? error : outputErrorOf(error, 'the output');
    if (known) {
      report(`tsvisor: ${known.message}\n`);
      process.exitCode = known.exitStatus;
    } else {
      const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
      report(`tsvisor: internal error (this is a bug in tsvisor; please report it with the command you ran):\n${detail}\n`);
      process.exitCode = ExitStatus.internal;
    }
  },
);

/** The last word on stderr; when stderr itself cannot be written there is no one left to tell, and the status says it. */
function report(text: string): void {
  try {
    writeOutput(2, text);
  } catch {
    // stderr is gone too
  }
}
