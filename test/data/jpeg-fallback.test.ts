/**
 * Which decoder takes an image, and that both report bad images the same way: the native
 * libjpeg-turbo path for JPEGs, sharp for the rest (PNG, CMYK) and when forced with the
 * `decoder` option or VPT_IMAGE_DECODER; missing, empty, folder, non-image and truncated files
 * give the same VPT_DATA errors naming the file on either path, while corrupt data libjpeg
 * recovers from (stray bytes before a marker) decodes on both, as in PIL. The native
 * read + decode runs off the JS thread.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../../lib/binding.js';
import { decodeResized } from '../../lib/data/decode-image.js';
import { FIXTURES, tempDir } from '../helpers/common.js';

const JPEG = join(FIXTURES, 'jpeg');
const addon = loadAddon().addon;
const hasNativeJpeg = typeof addon.decodeJpegFile === 'function';

let tmp: Awaited<ReturnType<typeof tempDir>>;
const files: Record<string, string> = {};

beforeAll(async () => {
  tmp = await tempDir();
  const at = (name: string) => (files[name] = join(tmp.dir, name));
  const good = await readFile(join(JPEG, 'ycc420-odd.jpg'));
  await writeFile(at('empty.jpg'), '');
  await writeFile(at('text.jpg'), 'this is not an image');
  await writeFile(at('truncated.jpg'), good.subarray(0, Math.floor(good.length / 2)));
  const eoi = good.lastIndexOf(Buffer.from([0xff, 0xd9]));
  await writeFile(at('no-eoi.jpg'), good.subarray(0, eoi)); // every scan byte, then the file ends
  // libjpeg-turbo's bit buffer takes up to 7 bytes past the scan's end: the 8th is libjpeg's
  // "Corrupt JPEG data: 1 extraneous bytes before marker 0xd9", which PIL decodes.
  await writeFile(at('stray-byte.jpg'), Buffer.concat([good.subarray(0, eoi), Buffer.alloc(8), good.subarray(eoi)]));
  await writeFile(at('header-only.jpg'), good.subarray(0, good.indexOf(Buffer.from([0xff, 0xda]))));
  const corrupt = Buffer.from(good);
  corrupt.fill(0xff, Math.floor(good.length * 0.6), Math.floor(good.length * 0.6) + 64); // a run of fill bytes inside the scan
  await writeFile(at('corrupt.jpg'), corrupt);
  files['missing.jpg'] = join(tmp.dir, 'missing.jpg');
  await mkdir(at('folder.jpg'));
  await copyFile(join(JPEG, 'ycc420-odd.jpg'), at('good.jpg'));
  await sharp(join(JPEG, 'golden-ycc420-odd.png')).png().toFile(at('good.png'));
  const red = new Uint8Array(60 * 40 * 3).map((_, i) => (i % 3 === 0 ? 220 : 30));
  await sharp(red, { raw: { width: 60, height: 40, channels: 3 } })
    .toColourspace('cmyk')
    .jpeg({ quality: 95 })
    .toFile(at('cmyk.jpg'));
});
afterAll(async () => {
  await tmp.cleanup();
});
afterEach(() => {
  delete process.env.VPT_IMAGE_DECODER;
});

describe('bad images give the same errors on both paths', () => {
  const cases: Array<[string, RegExp]> = [
    ['missing.jpg', /: file not found$/],
    ['empty.jpg', /: empty file \(0 bytes\)$/],
    ['folder.jpg', /: a folder, not a file$/],
    ['text.jpg', /: cannot decode \(.+\)$/],
    ['truncated.jpg', /: cannot decode \(.+\)$/],
    ['no-eoi.jpg', /: cannot decode \(.+\)$/],
    ['header-only.jpg', /: cannot decode \(.+\)$/],
  ];
  // The fill run ends the scan early; the bogus marker after the last row fails libjpeg, as it
  // fails PIL, while libvips stops reading before it.
  const nativeCases: Array<[string, RegExp]> = [
    ['corrupt.jpg', /: cannot decode \(Unsupported marker type 0x[0-9a-f]+\)$/],
  ];
  for (const decoder of ['auto', 'sharp'] as const) {
    for (const [name, reason] of decoder === 'auto' && hasNativeJpeg ? [...cases, ...nativeCases] : cases) {
      it(`${name}, decoder '${decoder}': VPT_DATA naming the file`, async () => {
        const error = await decodeResized(files[name]!, 64, { decoder }).catch((e: unknown) => e);
        expect(error).toMatchObject({ code: 'VPT_DATA', message: expect.stringMatching(reason) });
        expect((error as Error).message.startsWith(`bad image ${files[name]}: `)).toBe(true);
      });
    }
  }

  it.skipIf(!hasNativeJpeg)("the native path gives libjpeg's own words for a truncated JPEG", async () => {
    for (const name of ['truncated.jpg', 'no-eoi.jpg']) {
      await expect(decodeResized(files[name]!, 64, { decoder: 'native' })).rejects.toMatchObject({
        code: 'VPT_DATA',
        message: expect.stringMatching(/: cannot decode \(Premature end of JPEG file\)$/),
      });
    }
  });
});

describe('corrupt data that libjpeg recovers from decodes, as in PIL', () => {
  it.skipIf(!hasNativeJpeg)(
    "a stray byte before EOI: the native decode is the clean file's, which is PIL's",
    async () => {
      const [width, height] = [203, 157];
      const clean = await decodeResized(files['good.jpg']!, height, { decoder: 'native' });
      const pil = await sharp(join(JPEG, 'golden-ycc420-odd.png')).raw().toBuffer({ resolveWithObject: true });
      expect([clean.width, clean.height, pil.info.width, pil.info.height]).toEqual([width, height, width, height]);
      expect(Buffer.compare(clean.data, pil.data)).toBe(0);
      for (const decoder of ['native', 'auto'] as const) {
        const stray = await decodeResized(files['stray-byte.jpg']!, height, { decoder });
        expect([stray.width, stray.height], decoder).toEqual([width, height]);
        expect(Buffer.compare(stray.data, clean.data), decoder).toBe(0);
        const resized = await decodeResized(files['stray-byte.jpg']!, 100, { decoder });
        expect(
          Buffer.compare(resized.data, (await decodeResized(files['good.jpg']!, 100, { decoder })).data),
          decoder,
        ).toBe(0);
      }
    },
  );

  it('a stray byte before EOI: sharp decodes it as the clean file', async () => {
    const stray = await decodeResized(files['stray-byte.jpg']!, 100, { decoder: 'sharp' });
    const clean = await decodeResized(files['good.jpg']!, 100, { decoder: 'sharp' });
    expect(Buffer.compare(stray.data, clean.data)).toBe(0);
  });
});

describe('falling back to sharp', () => {
  it('a PNG: sharp decodes it; the native decoder refuses it by name', async () => {
    const auto = await decodeResized(files['good.png']!, 64);
    const bySharp = await decodeResized(files['good.png']!, 64, { decoder: 'sharp' });
    expect([auto.width, auto.height]).toEqual([82, 64]);
    expect(Buffer.compare(auto.data, bySharp.data)).toBe(0);
    await expect(decodeResized(files['good.png']!, 64, { decoder: 'native' })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/"decoder": 'native' cannot decode .*good\.png: /),
    });
  });

  it('a CMYK JPEG goes to sharp, which converts it to sRGB', async () => {
    const image = await decodeResized(files['cmyk.jpg']!, 40);
    expect([image.width, image.height]).toEqual([60, 40]);
    expect(image.data[0]).toBeGreaterThan(180);
    expect(Math.max(image.data[1]!, image.data[2]!)).toBeLessThan(90);
    await expect(decodeResized(files['cmyk.jpg']!, 40, { decoder: 'native' })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('its colour space is not grayscale, YCbCr or RGB'),
    });
  });

  it.skipIf(!hasNativeJpeg)('a lossless JPEG, which this libjpeg does not decode, is left to sharp', async () => {
    const jpeg = await readFile(files['good.jpg']!);
    const path = join(tmp.dir, 'lossless.jpg');
    const relabeled = Buffer.from(jpeg);
    relabeled[jpeg.indexOf(Buffer.from([0xff, 0xc0])) + 1] = 0xc3; // SOF3; its data no longer fits: garbage either way
    await writeFile(path, relabeled);
    await expect(decodeResized(path, 64, { decoder: 'native' })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('SOF type 0xc3'),
    });
    const viaAuto = await decodeResized(path, 64).catch((e: unknown) => e);
    expect(viaAuto).toEqual(await decodeResized(path, 64, { decoder: 'sharp' }).catch((e: unknown) => e));
  });

  it.skipIf(!hasNativeJpeg)('the native decoder itself declines a CMYK JPEG and hands back its bytes', async () => {
    const result = await addon.decodeJpegFile!({ path: files['cmyk.jpg']!, shorter: 40 });
    expect(result).toMatchObject({ declined: 'its colour space is not grayscale, YCbCr or RGB' });
    expect(Buffer.compare((result as { file: Uint8Array }).file, await readFile(files['cmyk.jpg']!))).toBe(0);
  });

  it.skipIf(!hasNativeJpeg)(
    "VPT_IMAGE_DECODER=sharp sends JPEGs to sharp, whose resize differs from PIL's by a level or two",
    async () => {
      const native = await decodeResized(files['good.jpg']!, 100);
      process.env.VPT_IMAGE_DECODER = 'sharp';
      const forced = await decodeResized(files['good.jpg']!, 100);
      delete process.env.VPT_IMAGE_DECODER;
      const bySharp = await decodeResized(files['good.jpg']!, 100, { decoder: 'sharp' });
      expect([forced.width, forced.height]).toEqual([native.width, native.height]);
      expect(Buffer.compare(forced.data, bySharp.data)).toBe(0);
      expect(Buffer.compare(forced.data, native.data)).not.toBe(0);
      let max = 0;
      for (let i = 0; i < native.data.length; i++) max = Math.max(max, Math.abs(native.data[i]! - forced.data[i]!));
      expect(max).toBeLessThanOrEqual(3);
    },
  );

  it('names a bad decoder option or environment value', async () => {
    await expect(decodeResized(files['good.jpg']!, 64, { decoder: 'libjpeg' as never })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('Invalid option "decoder"'),
    });
    process.env.VPT_IMAGE_DECODER = 'pil';
    await expect(decodeResized(files['good.jpg']!, 64)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('Invalid option "VPT_IMAGE_DECODER"'),
    });
  });
});

describe.skipIf(!hasNativeJpeg)('native decode runs off the JS thread', () => {
  it('timers keep firing while a large JPEG decodes', async () => {
    const [width, height] = [2400, 1800];
    const pixels = new Uint8Array(width * height * 3).map((_, i) => (i * 2654435761) >>> 24);
    const path = join(tmp.dir, 'large.jpg');
    await sharp(pixels, { raw: { width, height, channels: 3 } })
      .jpeg({ quality: 95 })
      .toFile(path);
    let ticks = 0;
    const timer = setInterval(() => {
      ticks++;
    }, 2);
    const started = performance.now();
    const pending = addon.decodeJpegFile!({ path, shorter: 256 });
    const callMs = performance.now() - started;
    expect(await pending).toMatchObject({ width: 341, height: 256 });
    const elapsed = performance.now() - started;
    clearInterval(timer);
    expect(elapsed).toBeGreaterThan(20);
    expect(callMs).toBeLessThan(elapsed / 4);
    expect(ticks).toBeGreaterThanOrEqual(Math.floor(elapsed / 2 / 4));
  });

  it('a malformed request is refused on the JS thread with VPT_ARGUMENT', () => {
    expect(() => addon.decodeJpegFile!({ path: files['good.jpg']!, shorter: 0 })).toThrow(
      expect.objectContaining({ code: 'VPT_ARGUMENT', message: expect.stringContaining("'shorter' must be 1..65535") }),
    );
    expect(() => addon.decodeJpegFile!({ path: 42 as never, shorter: 64 })).toThrow(
      expect.objectContaining({
        code: 'VPT_ARGUMENT',
        message: expect.stringContaining("exactly one of 'path' (a string) or 'bytes'"),
      }),
    );
  });
});
