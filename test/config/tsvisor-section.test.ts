/** [tsvisor]: tsvisor's own config keys, for what QEMU's command line says and axvmconfig cannot. */
import { describe, expect, it } from 'vitest';
import { VALID, errorOf, load } from './fixtures.js';

const withTsvisor = (body: string) => `${VALID}\n[tsvisor]\n${body}\n`;
const debugExits = (text: string) => load(text).devices.filter((device) => device.kind === 'debug-exit').map(({ base, length, origin }) => ({ base, length, origin }));

describe('[tsvisor]', () => {
  it('without it, a VM has the debug-exit port at 0xf4, no pc-testdev, no fw_cfg files and its CPU as KVM gives it', () => {
    const spec = load(VALID);
    expect(debugExits(VALID)).toEqual([{ base: 0xf4, length: 4, origin: 'platform' }]);
    expect(spec.devices.some((device) => device.kind.startsWith('pc-testdev'))).toBe(false);
    expect(spec.devices.find((device) => device.kind === 'fw-cfg')?.fwCfgFiles).toBeUndefined();
    expect(spec.cpuFeatures).toEqual([]);
  });

  it('debug_exit places debug-exit ports, or none', () => {
    expect(debugExits(withTsvisor('debug_exit = [[0x501, 2], [0xf4, 4]]'))).toEqual([
      { base: 0x501, length: 2, origin: 'tsvisor.debug_exit[0]' },
      { base: 0xf4, length: 4, origin: 'tsvisor.debug_exit[1]' },
    ]);
    expect(debugExits(withTsvisor('debug_exit = []'))).toEqual([]);
  });

  it('pc_testdev adds its five ranges; fw_cfg its files; cpu_features sorted by name', () => {
    const spec = load(withTsvisor('pc_testdev = true\nfw_cfg = [{ name = "opt/b", string = "x" }, { name = "opt/a", file = "kernel.bin" }]\ncpu_features = ["-avx", "+sse4_2", "-sse3"]'));
    expect(spec.devices.filter((device) => device.kind.startsWith('pc-testdev')).map((device) => device.base)).toEqual([0xe0, 0xe4, 0xe8, 0x2000, 0xff000000]);
    expect(spec.devices.find((device) => device.kind === 'fw-cfg')?.fwCfgFiles).toEqual([
      { name: 'opt/b', string: 'x' },
      { name: 'opt/a', file: expect.stringMatching(/\/kernel\.bin$/) },
    ]);
    expect(spec.cpuFeatures).toEqual([{ name: 'avx', enabled: false }, { name: 'pni', enabled: false }, { name: 'sse4.2', enabled: true }]);
  });

  it('warns about an unknown key with a did-you-mean, as for AxVisor\'s tables', () => {
    expect(load(withTsvisor('pc_testdv = true')).warnings).toEqual([
      expect.stringMatching(/:\d+:\d+: tsvisor\.pc_testdv: tsvisor does not know this key and ignores it, as AxVisor does\. Did you mean pc_testdev\?$/),
    ]);
  });

  it('errors name the key and say how to fix it', () => {
    expect(errorOf(withTsvisor('debug_exit = [[0xfffe, 4]]')).message).toMatch(/tsvisor\.debug_exit\[0\]\[1\]: 4 is out of range: expected 1 to 2\./);
    expect(errorOf(withTsvisor('debug_exit = [[0x3f8, 1]]')).message).toMatch(/tsvisor\.debug_exit\[0\]: debug-exit \(isa-debug-exit at 0x3f8\) at I\/O ports 0x3f8-0x3f8 overlaps COM1/);
    expect(errorOf(withTsvisor('fw_cfg = [{ name = "opt/x" }]')).message).toMatch(/tsvisor\.fw_cfg\[0\]: an fw_cfg file needs exactly one of string and file\./);
    expect(errorOf(withTsvisor('fw_cfg = [{ name = "opt/x", strin = "y" }]')).message).toMatch(/tsvisor\.fw_cfg\[0\]\.strin: an fw_cfg file has no key strin\./);
    expect(errorOf(withTsvisor('fw_cfg = [{ name = "opt/x", file = "missing.bin" }]')).message).toMatch(/tsvisor\.fw_cfg\[0\]\.file: cannot read .*missing\.bin\./);
    expect(errorOf(withTsvisor(`fw_cfg = [{ name = "${'x'.repeat(56)}", string = "y" }]`)).message).toMatch(/fw_cfg names are 1 to 55 bytes/);
    expect(errorOf(withTsvisor('cpu_features = ["avx"]')).message).toMatch(/tsvisor\.cpu_features\[0\]: expected "\+feature" or "-feature"/);
    expect(errorOf(withTsvisor('cpu_features = ["+x2apic"]')).message).toMatch(/x2apic cannot be turned on: tsvisor's Local APIC is xAPIC only/);
    expect(errorOf(withTsvisor('cpu_features = ["+avx", "-avx"]')).message).toMatch(/tsvisor\.cpu_features\[1\]: avx is turned off here and on at tsvisor\.cpu_features\[0\]\./);
  });
});
