/**
 * The KVM ABI as declared in src/kvm against the kernel headers on this machine: a C
 * program compiled here prints every struct size, member offset and size, constant and
 * ioctl number, and each must equal what the TypeScript side computes.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as constants from '../../src/kvm/constants.js';
import * as ioctls from '../../src/kvm/ioctls.js';
import { leaves } from '../../src/kvm/layout.js';
import { ALL_STRUCTS } from '../../src/kvm/structs.js';

interface Expectation {
  /** The struct name, or 'constants'. */
  readonly group: string;
  readonly key: string;
  /** C expression printed as an unsigned 64-bit number. */
  readonly cExpression: string;
  readonly ours: bigint;
}

function expectations(): Expectation[] {
  const list: Expectation[] = [];
  for (const struct of ALL_STRUCTS) {
    const cType = `struct ${struct.name}`;
    const group = struct.name;
    list.push({ group, key: `sizeof(${cType})`, cExpression: `sizeof(${cType})`, ours: BigInt(struct.size) });
    for (const leaf of leaves(struct)) {
      list.push({ group, key: `offsetof(${cType}, ${leaf.path})`, cExpression: `offsetof(${cType}, ${leaf.path})`, ours: BigInt(leaf.offset) });
      if (leaf.type.kind === 'array' && leaf.type.flexible) continue; // sizeof a flexible array member is not C
      list.push({ group, key: `sizeof(${cType}.${leaf.path})`, cExpression: `sizeof(((${cType} *)0)->${leaf.path})`, ours: BigInt(leaf.type.size) });
    }
  }
  for (const [name, value] of Object.entries(constants)) {
    if (!name.startsWith('KVM_') || (typeof value !== 'number' && typeof value !== 'bigint')) continue;
    list.push({ group: 'constants', key: name, cExpression: name, ours: BigInt(value) });
  }
  for (const [reason, name] of Object.entries(constants.EXIT_REASON_NAMES)) {
    list.push({ group: 'constants', key: `EXIT_REASON_NAMES[${reason}]`, cExpression: name, ours: BigInt(reason) });
  }
  for (const [name, value] of Object.entries(ioctls)) {
    if (name.startsWith('KVM_') && typeof value === 'number') list.push({ group: 'ioctls', key: name, cExpression: name, ours: BigInt(value) });
  }
  return list;
}

const workdir = mkdtempSync(join(tmpdir(), 'tsvisor-abi-'));
afterAll(() => rmSync(workdir, { recursive: true, force: true }));

function kernelValues(list: readonly Expectation[]): Map<string, bigint> {
  const source = [
    '#include <linux/kvm.h>',
    '#include <stddef.h>',
    '#include <stdio.h>',
    'int main(void) {',
    ...list.map((entry) => `  printf("%s %llu\\n", ${JSON.stringify(entry.key)}, (unsigned long long)(${entry.cExpression}));`),
    '  return 0;',
    '}',
  ].join('\n');
  const sourcePath = join(workdir, 'abi.c');
  const binaryPath = join(workdir, 'abi');
  writeFileSync(sourcePath, source);
  execFileSync('gcc', ['-std=gnu11', '-o', binaryPath, sourcePath]);
  const output = execFileSync(binaryPath, { encoding: 'utf8' });
  return new Map(
    output
      .trim()
      .split('\n')
      .map((line) => {
        const at = line.lastIndexOf(' ');
        return [line.slice(0, at), BigInt(line.slice(at + 1))] as const;
      }),
  );
}

describe('the KVM ABI in src/kvm matches <linux/kvm.h>', () => {
  const list = expectations();
  const kernel = kernelValues(list);

  const groups = [...new Set(list.map((entry) => entry.group))];

  it('checks every struct, member, constant and ioctl', () => {
    expect(groups).toHaveLength(ALL_STRUCTS.length + 2);
    expect(kernel.size).toBe(list.length);
  });

  it('checks what the architectural reset uses: vCPU events, debug registers, XSAVE, XCRs, the vCPU\'s CPUID', () => {
    const keys = new Set(list.map((entry) => entry.key));
    for (const struct of ['kvm_vcpu_events', 'kvm_debugregs', 'kvm_xsave', 'kvm_xcr', 'kvm_xcrs']) expect(keys).toContain(`sizeof(struct ${struct})`);
    for (const member of ['exception.pending', 'interrupt.shadow', 'nmi.masked', 'sipi_vector', 'flags', 'triple_fault.pending', 'exception_payload']) {
      expect(keys).toContain(`offsetof(struct kvm_vcpu_events, ${member})`);
    }
    const names = [
      'KVM_GET_VCPU_EVENTS', 'KVM_SET_VCPU_EVENTS', 'KVM_GET_DEBUGREGS', 'KVM_SET_DEBUGREGS', 'KVM_GET_XSAVE', 'KVM_SET_XSAVE',
      'KVM_GET_XCRS', 'KVM_SET_XCRS', 'KVM_GET_CPUID2', 'KVM_CAP_VCPU_EVENTS', 'KVM_CAP_DEBUGREGS', 'KVM_CAP_XSAVE', 'KVM_CAP_XCRS',
      'KVM_VCPUEVENT_VALID_NMI_PENDING', 'KVM_VCPUEVENT_VALID_SHADOW', 'KVM_MAX_XCRS',
    ];
    for (const name of names) expect(keys).toContain(name);
  });

  it.each(groups)('%s', (group) => {
    const entries = list.filter((entry) => entry.group === group);
    const ours = Object.fromEntries(entries.map((entry) => [entry.key, entry.ours]));
    const theirs = Object.fromEntries(entries.map((entry) => [entry.key, kernel.get(entry.key)]));
    expect(ours).toEqual(theirs);
  });
});
