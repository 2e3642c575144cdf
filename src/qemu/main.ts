#!/usr/bin/env node
/**
 * tsvisor-qemu: QEMU's command line (qemu-system-x86_64's argv, unchanged), for tools that
 * launch QEMU. Like src/cli.ts, it imports little at start-up and prestarts a vCPU thread.
 */
import { writeSync } from 'node:fs';
import { ExitStatus } from '../errors.js';
import { dismissIdleVcpuThreads, prestartVcpuThread } from '../vmm/vcpu-threads.js';
import { asksForTextOnly, qemuCommand } from './qemu-command.js';

async function main(args: readonly string[]): Promise<number> {
  if (!asksForTextOnly(args)) prestartVcpuThread();
  try {
    return await qemuCommand(args);
  } finally {
    await dismissIdleVcpuThreads();
  }
}

main(process.argv.slice(2)).then(
  (status) => {
    process.exitCode = status;
  },
  (error: unknown) => {
    const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
    writeSync(2, `tsvisor-qemu: internal error (this is a bug in tsvisor; please report it with the command you ran):\n${detail}\n`);
    process.exitCode = ExitStatus.internal;
  },
);
