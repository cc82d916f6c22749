/**
 * Decompression bombs: a JPEG whose header claims more pixels than the limit is refused with
 * VPT_TOOLARGE before anything of its size is allocated, on the native path (native/data/jpeg_decode.cc)
 * and on sharp's; so is an image whose resized size would be over it. The limit is `maxPixels` or
 * VPT_MAX_IMAGE_PIXELS, default DEFAULT_MAX_IMAGE_PIXELS (Pillow's).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../../lib/binding.js';
import { DEFAULT_MAX_IMAGE_PIXELS, decodeResized, type ImageDecoder } from '../../lib/data/decode-image.js';
import { ErrorCode } from '../../lib/errors.js';
import { tempDir } from '../helpers/common.js';

const hasNativeJpeg = typeof loadAddon().addon.decodeJpegFile === 'function';
const decoders: ImageDecoder[] = hasNativeJpeg ? ['native', 'sharp'] : ['sharp'];

/** A real 16x16 JPEG whose SOF0 header then claims `width` x `height`: a few hundred bytes. */
async function bomb(path: string, width: number, height: number): Promise<void> {
  const jpeg = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 9, g: 99, b: 199 } } })
    .jpeg({ quality: 80, chromaSubsampling: '4:4:4' })
    .toBuffer();
  const sof = jpeg.indexOf(Buffer.from([0xff, 0xc0]));
  expect(sof).toBeGreaterThan(0);
  jpeg.writeUInt16BE(height, sof + 5);
  jpeg.writeUInt16BE(width, sof + 7);
  await writeFile(path, jpeg);
}

async function plainJpeg(path: string, width: number, height: number): Promise<void> {
  await sharp({ create: { width, height, channels: 3, background: { r: 1, g: 2, b: 3 } } })
    .jpeg()
    .toFile(path);
}

let dir: string;
let cleanup: () => Promise<void>;
beforeAll(async () => {
  ({ dir, cleanup } = await tempDir());
});
afterAll(() => cleanup());

afterEach(() => {
  delete process.env.VPT_MAX_IMAGE_PIXELS;
});

describe('decompression bombs', () => {
  it("Pillow's limit is the default", () => {
    expect(DEFAULT_MAX_IMAGE_PIXELS).toBe(2 * 89_478_485);
  });

  for (const decoder of decoders) {
    it(`${decoder}: a header claiming 60000 x 60000 is refused with VPT_TOOLARGE, naming the file and both sizes`, async () => {
      const path = join(dir, 'bomb.jpg');
      await bomb(path, 60000, 60000);
      expect((await readFile(path)).length).toBeLessThan(1000);
      const before = process.memoryUsage().rss;
      const error = await decodeResized(path, 224, { decoder }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.ImageTooLarge });
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).toContain('60000x60000 (3600000000 pixels)');
      expect((error as Error).message).toContain(`limit of ${DEFAULT_MAX_IMAGE_PIXELS} pixels`);
      // Refused from the header: nothing near 3.6e9 * 3 bytes was allocated.
      expect(process.memoryUsage().rss - before).toBeLessThan(200 * 2 ** 20);
    });

    it(`${decoder}: maxPixels and VPT_MAX_IMAGE_PIXELS set the limit; at the limit an image decodes`, async () => {
      const path = join(dir, `a-${decoder}.jpg`);
      await plainJpeg(path, 40, 30);
      await expect(decodeResized(path, 30, { decoder, maxPixels: 1199 })).rejects.toMatchObject({
        code: ErrorCode.ImageTooLarge,
        message: expect.stringContaining('40x30 (1200 pixels) is over the limit of 1199 pixels'),
      });
      expect((await decodeResized(path, 30, { decoder, maxPixels: 1200 })).width).toBe(40);
      process.env.VPT_MAX_IMAGE_PIXELS = '1000';
      await expect(decodeResized(path, 30, { decoder })).rejects.toMatchObject({ code: ErrorCode.ImageTooLarge });
      expect((await decodeResized(path, 30, { decoder, maxPixels: 5000 })).height).toBe(30);
    });

    it(`${decoder}: a size that only the resize makes too large is refused before resizing`, async () => {
      const path = join(dir, 'thin.jpg');
      await plainJpeg(path, 2, 100);
      // The shorter side 2 -> 50 makes 50 x 2500.
      await expect(decodeResized(path, 50, { decoder, maxPixels: 100_000 })).rejects.toMatchObject({
        code: ErrorCode.ImageTooLarge,
        message: expect.stringContaining('resized to 50, the image would be 50x2500 (125000 pixels)'),
      });
      await expect(decodeResized(path, 50, { decoder, fit: 'fill', maxPixels: 2000 })).rejects.toMatchObject({
        code: ErrorCode.ImageTooLarge,
        message: expect.stringContaining('50x50 (2500 pixels)'),
      });
      expect(await decodeResized(path, 50, { decoder, maxPixels: 125_000 })).toMatchObject({ width: 50, height: 2500 });
    });
  }

  it.runIf(hasNativeJpeg)(
    'native: a progressive JPEG with more than 500 scans is refused (each scan rereads the whole image)',
    async () => {
      const progressive = await sharp({
        create: { width: 16, height: 16, channels: 3, background: { r: 200, g: 10, b: 60 } },
      })
        .jpeg({ progressive: true })
        .toBuffer();
      const sos: number[] = [];
      const marker = Buffer.from([0xff, 0xda]);
      for (let i = progressive.indexOf(marker); i >= 0; i = progressive.indexOf(marker, i + 2)) sos.push(i);
      expect(sos.length).toBeGreaterThan(2);
      // The first scan (DC) again and again: libjpeg warns of a bogus progression and reads on.
      const withScans = (n: number) =>
        Buffer.concat([
          progressive.subarray(0, sos[1]),
          ...Array.from({ length: n }, () => progressive.subarray(sos[0], sos[1])),
          progressive.subarray(sos[1]),
        ]);
      const many = join(dir, 'many-scans.jpg');
      await writeFile(many, withScans(600));
      await expect(decodeResized(many, 8, { decoder: 'native' })).rejects.toMatchObject({
        code: ErrorCode.Data,
        message: expect.stringContaining('more than 500 progressive scans'),
      });
      const some = join(dir, 'some-scans.jpg');
      await writeFile(some, withScans(100));
      expect(await decodeResized(some, 8, { decoder: 'native' })).toMatchObject({ width: 8, height: 8 });
    },
  );

  it('a maxPixels that is not a positive integer is VPT_OPTION', async () => {
    const path = join(dir, 'a.jpg');
    await plainJpeg(path, 8, 8);
    for (const bad of [0, -1, 1.5, Number.NaN])
      await expect(decodeResized(path, 8, { maxPixels: bad })).rejects.toMatchObject({ code: ErrorCode.Option });
    process.env.VPT_MAX_IMAGE_PIXELS = 'lots';
    await expect(decodeResized(path, 8)).rejects.toMatchObject({
      code: ErrorCode.Option,
      message: expect.stringContaining('VPT_MAX_IMAGE_PIXELS'),
    });
  });
});
