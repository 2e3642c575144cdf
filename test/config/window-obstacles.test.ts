/** windowObstacles: fewer ranges for the real-mode area's search, and the same answer. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KVM_REAL_MODE_AREA_SIZE, placeKvmRealModeArea } from '../../src/boot/real-mode.js';
import { windowObstacles } from '../../src/config/window-obstacles.js';

const PAGE = 0x1000;
/** Page-aligned ranges near the top of 4 GiB, where the search looks, some touching or overlapping. */
const ranges = fc.array(
  fc.record({ page: fc.integer({ min: 0xf_f000, max: 0xf_ffff }), pages: fc.integer({ min: 0, max: 12 }) }).map(({ page, pages }) => ({ gpa: page * PAGE, size: pages * PAGE })),
  { maxLength: 40 },
);

describe('windowObstacles', () => {
  it('gives placeKvmRealModeArea the same answer as the ranges themselves', () => {
    fc.assert(
      fc.property(ranges, (occupied) => {
        expect(placeKvmRealModeArea(windowObstacles(occupied, KVM_REAL_MODE_AREA_SIZE))).toBe(placeKvmRealModeArea(occupied));
      }),
      { seed: 15, numRuns: 2000 },
    );
  });

  it('merges ranges across gaps no aligned window fits in, and keeps gaps one does', () => {
    const pieces = windowObstacles(
      [
        { gpa: 0x9000, size: 0x1000 },
        { gpa: 0x0, size: 0x1000 },
        { gpa: 0x2000, size: 0x1000 }, // the gap 0x1000-0x1fff holds no 16 KiB window
        { gpa: 0x5000, size: 0x0 }, // empty: occupies nothing
      ],
      0x4000,
    );
    // 0x3000-0x8fff holds the aligned window 0x4000-0x7fff.
    expect(pieces).toEqual([{ gpa: 0x0, size: 0x3000 }, { gpa: 0x9000, size: 0x1000 }]);
  });
});
