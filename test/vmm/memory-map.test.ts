/** Every memory-region type under real KVM: read-only RAM, MAP_IDENTICAL and MAP_RESERVED, seen from a guest. */
import { expect, it } from 'vitest';
import { describeKvm } from '../helpers/kvm.js';
import { outcomeOf, tsvisor } from '../helpers/tsvisor.js';

describeKvm('memory regions seen from a guest', () => {
  it('a write to read-only RAM does not change it and is reported; a reserved hole reads all ones and is logged', async () => {
    const result = await tsvisor(['run', 'configs/memory-map-x86_64.toml']);
    expect(result.stdout, outcomeOf(result)).toBe(
      [
        'read-only RAM holds the image loaded there: ok',
        'writes to read-only RAM leave it unchanged: ok',
        'MAP_IDENTICAL RAM reads back what was written: ok',
        'MAP_RESERVED memory reads as all ones and drops writes: ok',
        '4 passed, 0 failed',
        '',
      ].join('\n'),
    );
    expect(result.stderr.split('\n')).toEqual([
      'tsvisor: the guest wrote 1 byte to read-only memory at 0x1000010 (kernel.memory_regions[1]): writes there are dropped; later accesses to the page at 0x1000000 are only counted.',
      'tsvisor: the guest wrote 8 bytes to read-only memory at 0x1002000 (kernel.memory_regions[1]): writes there are dropped; later accesses to the page at 0x1002000 are only counted.',
      'tsvisor: the guest read 4 bytes from reserved memory at 0x1200000 (kernel.memory_regions[3]): reads there return all ones; later accesses to the page at 0x1200000 are only counted.',
      'tsvisor: kernel.memory_regions[1] (read-only): 3 guest writes dropped',
      'tsvisor: kernel.memory_regions[3] (reserved): 1 guest write dropped, 2 reads answered with all ones',
      '',
    ]);
    expect(result.status).toBe(0);
  });
});
