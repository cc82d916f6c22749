/**
 * The native JPEG path (native/data/jpeg_decode.cc, native/data/image_resample.cc) against PIL: the
 * decode, the EXIF orientation and torchvision's Resize, bit for bit, on the fixtures of
 * test/fixtures/jpeg/generate.py (4:2:0 / 4:2:2 / 4:4:4, progressive, grayscale, odd sizes,
 * orientations 2..8; downscales and upscales); EXIF blocks in either byte order.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../../lib/binding.js';
import { decodeResized } from '../../lib/data/decode-image.js';
import { FIXTURES, tempDir } from '../helpers/common.js';

const JPEG = join(FIXTURES, 'jpeg');
const hasNativeJpeg = typeof loadAddon().addon.decodeJpegFile === 'function';

interface Golden {
  images: Record<
    string,
    {
      stored: [number, number];
      orientation: number;
      upright: [number, number];
      resized: Record<string, [number, number]>;
    }
  >;
}
let golden: Golden;
beforeAll(async () => {
  golden = JSON.parse(await readFile(join(JPEG, 'golden.json'), 'utf8')) as Golden;
});

async function goldenPixels(file: string): Promise<{ data: Buffer; width: number; height: number }> {
  const { data, info } = await sharp(join(JPEG, file)).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return { data, width: info.width, height: info.height };
}

/** Pixels that differ, and the largest difference, in uint8 levels. */
function compare(ours: Uint8Array, theirs: Uint8Array): { differing: number; max: number } {
  expect(ours.length).toBe(theirs.length);
  let differing = 0,
    max = 0;
  for (let i = 0; i < ours.length; i++) {
    const d = Math.abs(ours[i]! - theirs[i]!);
    if (d) differing++;
    max = Math.max(max, d);
  }
  return { differing, max };
}

interface Pixels {
  data: Uint8Array;
  width: number;
  height: number;
}

function rotate180(p: Pixels): Pixels {
  const data = new Uint8Array(p.data.length);
  const n = p.width * p.height;
  for (let i = 0; i < n; i++) data.set(p.data.subarray(3 * i, 3 * i + 3), 3 * (n - 1 - i));
  return { data, width: p.width, height: p.height };
}

/** 90 degrees clockwise: upright (x, y) comes from stored (y, H - 1 - x). */
function rotate90(p: Pixels): Pixels {
  const [width, height] = [p.height, p.width];
  const data = new Uint8Array(p.data.length);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const from = ((p.height - 1 - x) * p.width + y) * 3;
      data.set(p.data.subarray(from, from + 3), (y * width + x) * 3);
    }
  }
  return { data, width, height };
}

/** `jpeg` with an APP1 EXIF segment, in the given byte order, holding only an orientation tag. */
function withExifOrientation(jpeg: Buffer, order: 'II' | 'MM', orientation: number): Buffer {
  const tiff = Buffer.alloc(26);
  const le = order === 'II';
  const u16 = (v: number, at: number) => (le ? tiff.writeUInt16LE(v, at) : tiff.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (le ? tiff.writeUInt32LE(v, at) : tiff.writeUInt32BE(v, at));
  tiff.write(order, 0, 'latin1');
  u16(42, 2);
  u32(8, 4); // IFD0 right after the header
  u16(1, 8); // one entry: tag, type SHORT, count 1, value
  u16(0x0112, 10);
  u16(3, 12);
  u32(1, 14);
  u16(orientation, 18);
  u32(0, 22); // no next IFD
  const payload = Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff]);
  const app1 = Buffer.from([0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff]);
  return Buffer.concat([jpeg.subarray(0, 2), app1, payload, jpeg.subarray(2)]);
}

describe.skipIf(!hasNativeJpeg)('libjpeg-turbo decode equals PIL', () => {
  it('every fixture, unresized: the same pixels as PIL (orientation applied), bit for bit', async () => {
    for (const [name, g] of Object.entries(golden.images)) {
      const [width, height] = g.upright;
      const ours = await decodeResized(join(JPEG, name), Math.min(width, height), { decoder: 'native' });
      const theirs = await goldenPixels(`golden-${name.replace(/\.jpg$/, '')}.png`);
      expect([ours.width, ours.height], name).toEqual([theirs.width, theirs.height]);
      expect(compare(ours.data, theirs.data), name).toEqual({ differing: 0, max: 0 });
    }
  });

  it("every fixture through torchvision's Resize (down and up): bit for bit", async () => {
    for (const [name, g] of Object.entries(golden.images)) {
      for (const [size, [width, height]] of Object.entries(g.resized)) {
        const ours = await decodeResized(join(JPEG, name), Number(size), { decoder: 'native' });
        const theirs = await goldenPixels(`golden-${name.replace(/\.jpg$/, '')}-r${size}.png`);
        expect([ours.width, ours.height], `${name} -> ${size}`).toEqual([width, height]);
        expect(compare(ours.data, theirs.data), `${name} -> ${size}`).toEqual({ differing: 0, max: 0 });
      }
    }
  });

  it('reads the orientation from little- and big-endian EXIF blocks, as sharp does', async () => {
    const plain = await readFile(join(JPEG, 'ycc444.jpg'));
    const { dir, cleanup } = await tempDir();
    const upright = await decodeResized(join(JPEG, 'ycc444.jpg'), 120, { decoder: 'native' });
    for (const [order, orientation] of [
      ['II', 3],
      ['MM', 6],
      ['MM', 9],
    ] as const) {
      const path = join(dir, `${order}-${orientation}.jpg`);
      await writeFile(path, withExifOrientation(plain, order, orientation));
      expect((await sharp(path).metadata()).orientation ?? 1, `${order} ${orientation}`).toBe(
        orientation <= 8 ? orientation : 1,
      );
      const image = await decodeResized(path, 120, { decoder: 'native' });
      // What the orientation says to do to the stored (upright here) picture: 3 turns it 180
      // degrees, 6 turns it 90 clockwise, 9 is not an orientation and changes nothing.
      const expected = orientation === 3 ? rotate180(upright) : orientation === 6 ? rotate90(upright) : upright;
      expect([image.width, image.height], `${order} ${orientation}`).toEqual([expected.width, expected.height]);
      expect(compare(image.data, expected.data), `${order} ${orientation}`).toEqual({ differing: 0, max: 0 });
    }
    await cleanup();
  });

  it('orientations 5..8 swap the sides before the shorter one is resized', async () => {
    for (const k of [5, 6, 7, 8]) {
      const image = await decodeResized(join(JPEG, `orientation-${k}.jpg`), 20, { decoder: 'native' });
      expect(golden.images[`orientation-${k}.jpg`]!.stored).toEqual([36, 48]);
      expect([image.width, image.height]).toEqual([26, 20]);
    }
  });
});
