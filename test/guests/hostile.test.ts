/**
 * The hostile guest (guests/hostile) under `tsvisor run`, on real KVM: every vCPU throws random
 * port, MMIO, IPI and MSR accesses at tsvisor's devices, seeded. tsvisor must end with the
 * guest's own status (it powers off: 0) and its verdict line, never with an internal error (70),
 * and must stop on SIGINT in the middle of it. `npm run soak` runs it longer.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { emulatedByQemu } from '../../src/kvm/index.js';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, REPO, tsvisor } from '../helpers/tsvisor.js';

/** A few seconds of attack on a real CPU; the test VM's emulated CPU is some fifty times slower. */
const ROUNDS = emulatedByQemu(cpus()[0]?.model ?? '') ? 400 : 5000;
const folder = mkdtempSync(join(tmpdir(), 'tsvisor-hostile-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

/** configs/hostile-x86_64.toml with this seed, rounds and vCPU count, its kernel path made absolute. */
function hostileConfig(seed: number, rounds: number, cpuCount = 2): string {
  const text = readFileSync(join(REPO, 'configs/hostile-x86_64.toml'), 'utf8')
    .replace('"../guests/build/hostile.bin"', JSON.stringify(join(REPO, 'guests/build/hostile.bin')))
    .replace('cpu_num = 2', `cpu_num = ${cpuCount}`)
    .replace('string = "1" }', `string = "${seed}" }`)
    .replace('string = "20000" }', `string = "${rounds}" }`);
  const path = join(folder, `hostile-${seed}-${rounds}-${cpuCount}.toml`);
  writeFileSync(path, text);
  return path;
}

describeKvm('the hostile guest', () => {
  it.each([1, 2, 3])('seed %i: tsvisor survives the attack and ends with the guest\'s power-off', async (seed) => {
    const result = await tsvisor(['run', hostileConfig(seed, ROUNDS)], { timeoutMs: 120_000 });
    expect(result.status, outcomeOf(result)).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^hostile: seed ${seed}, 2 cpus, ${ROUNDS} rounds each\\nhostile: 2 of 2 cpus started\\nhostile: seed ${seed}, 2 cpus, ${ROUNDS} rounds each: done \\(\\d+ #GP, \\d+ restarts\\)\\n$`));
    expect(result.stderr).not.toMatch(/internal error/);
  });

  it('stops on SIGINT in the middle of the attack, saying where each vCPU was', async () => {
    const result = await tsvisor(['run', hostileConfig(4, 100_000_000, 3)], { signal: 'SIGINT', signalAfter: 'rounds each\n', timeoutMs: 60_000 });
    expect(result.status, outcomeOf(result)).toBe(130);
    expect(result.stderr).toContain('tsvisor: stopped by SIGINT\n');
    expect(result.stderr.match(/^tsvisor: vCPU \d was /gm)).toHaveLength(3);
  });
});
