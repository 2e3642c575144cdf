/**
 * Fuzz target: the kernel image loaders (ELF, multiboot, flat), alone and through the config
 * loader that plans a boot from them: arbitrary bytes, and valid ELF32/ELF64 and multiboot
 * images with header fields set to hostile values. Property: a TsvisorError or a result,
 * within the bounds of fuzz-property.ts; and when a config is accepted (`tsvisor check`),
 * every segment it plans lies inside the image file `run` reads, and a kernel entered by its
 * own headers is entered inside a segment it loads.
 * test/fuzz/corpus/images/*.bin are images that once failed, replayed.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseElf } from '../../src/boot/elf.js';
import { findMultibootHeader, kludgeSegments } from '../../src/boot/multiboot-header.js';
import { loadVmConfig } from '../../src/config/load-config.js';
import { TsvisorError } from '../../src/errors.js';
import { readImage } from '../../src/images/read-image.js';
import { elfImage, kludgeImage } from '../helpers/images.js';
import { HOST, VALID, folder } from '../config/fixtures.js';
import { FUZZ_TIMEOUT_MS, fuzz, typedOutcome } from './fuzz-property.js';

const CORPUS = new URL('./corpus/images/', import.meta.url);

const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 0x40n, 0x1000n, 0x200000n, 0x200010n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 52n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
);

/** ELF64 header and first program header fields: [offset, width in bytes]. */
const ELF64_FIELDS: readonly [number, 2 | 4 | 8][] = [[24, 8], [32, 8], [54, 2], [56, 2], [64, 4], [72, 8], [88, 8], [96, 8], [104, 8]];
const ELF32_FIELDS: readonly [number, 2 | 4 | 8][] = [[24, 4], [28, 4], [42, 2], [44, 2], [52, 4], [56, 4], [64, 4], [68, 4], [72, 4]];
/** The a.out-kludge fields of kludgeImage()'s header (at 0x40): flags, then header_addr .. entry_addr. */
const KLUDGE_FIELDS: readonly [number, 2 | 4 | 8][] = [[0x44, 4], [0x4c, 4], [0x50, 4], [0x54, 4], [0x58, 4], [0x5c, 4]];

function setField(bytes: Uint8Array, [offset, width]: readonly [number, 2 | 4 | 8], value: bigint): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  if (width === 8) view.setBigUint64(offset, value, true);
  else if (width === 4) view.setUint32(offset, Number(value & 0xffffffffn), true);
  else view.setUint16(offset, Number(value & 0xffffn), true);
}

/** A valid image with some of its header fields set to other values, and some bytes changed, and perhaps cut short. */
function mutatedImage(base: () => Uint8Array, fields: readonly (readonly [number, 2 | 4 | 8])[]) {
  return fc
    .record({
      sets: fc.array(fc.record({ field: fc.constantFrom(...fields), value: u64 }), { maxLength: 4 }),
      bytes: fc.array(fc.record({ at: fc.nat(0x13f), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
      length: fc.option(fc.nat(0x1200), { nil: undefined }),
    })
    .map(({ sets, bytes, length }) => {
      const image = base();
      for (const { field, value } of sets) setField(image, field, value);
      for (const { at, byte } of bytes) image[at] = byte;
      return length === undefined ? image : image.slice(0, length);
    });
}

const images = fc.oneof(
  fc.uint8Array({ maxLength: 512 }),
  mutatedImage(() => elfImage(), ELF64_FIELDS),
  mutatedImage(() => elfImage({ elfClass: 32 }), ELF32_FIELDS),
  mutatedImage(() => kludgeImage(), KLUDGE_FIELDS),
  // A multiboot header in front of an ELF64 (flags without the a.out kludge: the ELF headers place it).
  mutatedImage(() => withMultibootHeader(elfImage(), 0x3), ELF64_FIELDS),
);

function withMultibootHeader(image: Uint8Array, flags: number): Uint8Array {
  const view = new DataView(image.buffer);
  view.setUint32(0x200, 0x1badb002, true);
  view.setUint32(0x204, flags, true);
  view.setUint32(0x208, -(0x1badb002 + flags) >>> 0, true);
  return image;
}

const KERNEL = join(folder, 'fuzz-kernel.bin');
const BOOTS = ['', 'boot_protocol = "direct"\n', 'boot_protocol = "multiboot"\n', 'enable_bios = true\n'];

describe('fuzz: the image loaders', () => {
  it('parseElf, findMultibootHeader and kludgeSegments', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fuzz(
      'images/parsers',
      fc.property(images, (image) => {
        typedOutcome(() => parseElf(image));
        typedOutcome(() => {
          const header = findMultibootHeader(image);
          return header?.addresses ? kludgeSegments(header, image.length) : header;
        });
      }),
    );
  });

  it('a config booting the image: check accepts only what run can load', { timeout: FUZZ_TIMEOUT_MS }, () => {
    fuzz(
      'images/config',
      fc.property(images, fc.constantFrom(...BOOTS), (image, boot) => checkAsRunLoads(image, boot)),
    );
  });

  it('replays the corpus of images that once failed', () => {
    const names = readdirSync(CORPUS).filter((name) => name.endsWith('.bin'));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      const image = new Uint8Array(readFileSync(new URL(name, CORPUS)));
      typedOutcome(() => parseElf(image));
      for (const boot of BOOTS) checkAsRunLoads(image, boot);
    }
  });
});

/**
 * Loads a config whose kernel is `image`; when it is valid, every planned segment's bytes are
 * in the file run reads, and an ELF or multiboot kernel's entry is in one of its segments.
 */
function checkAsRunLoads(image: Uint8Array, boot: string): void {
  writeFileSync(KERNEL, image);
  const text = VALID.replace('"kernel.bin"', '"fuzz-kernel.bin"').replace('[kernel]\n', `[kernel]\n${boot}`);
  writeFileSync(join(folder, 'fuzz-image.toml'), text);
  const spec = typedOutcome(() => loadVmConfig(join(folder, 'fuzz-image.toml'), HOST));
  if (spec instanceof TsvisorError) return;
  for (const planned of spec.images) {
    const bytes = readImage(planned.source);
    expect(bytes.length).toBe(planned.size);
    for (const segment of planned.segments) expect(segment.offset + segment.fileSize).toBeLessThanOrEqual(bytes.length);
  }
  if (spec.boot.kernelFormat !== 'flat') {
    const kernel = spec.images.find((planned) => planned.role === 'kernel');
    const entry = spec.boot.kernelEntry;
    expect(kernel?.segments.some((segment) => entry >= segment.gpa && entry < segment.gpa + segment.memSize), `entry 0x${entry.toString(16)} outside the kernel's segments`).toBe(true);
  }
}
