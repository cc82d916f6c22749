/**
 * An addon built without libjpeg (no `decodeJpegFile`): every image, JPEG or not, decodes with sharp
 * and the loader works as before.
 */
import { join } from 'node:path';

import { describe, expect, it, vi } from 'vitest';

import { decodeResized } from '../../lib/data/decode-image.js';
import { Loader } from '../../lib/data/loader.js';
import { FIXTURES } from '../helpers/common.js';

vi.mock('../../lib/binding.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/binding.js')>();
  return {
    ...real,
    loadAddon: () => {
      const { addon, path } = real.loadAddon();
      const { decodeJpegFile: _absent, ...withoutJpeg } = addon;
      return { addon: withoutJpeg, path };
    },
  };
});

const JPEG = join(FIXTURES, 'jpeg');

describe('without a native JPEG decoder', () => {
  it("'auto' decodes JPEGs with sharp; 'native' says the build has none", async () => {
    const path = join(JPEG, 'ycc420-odd.jpg');
    const auto = await decodeResized(path, 100);
    const bySharp = await decodeResized(path, 100, { decoder: 'sharp' });
    expect([auto.width, auto.height]).toEqual([129, 100]);
    expect(Buffer.compare(auto.data, bySharp.data)).toBe(0);
    await expect(decodeResized(path, 100, { decoder: 'native' })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('has no JPEG decoder'),
    });
  });

  it('the loader decodes through sharp, orientation included', async () => {
    const names = ['ycc444.jpg', 'gray.jpg', 'orientation-6.jpg'];
    const loader = new Loader(
      names.map((name, label) => ({ key: name, path: join(JPEG, name), label })),
      { batchSize: 3, train: false, cropSize: 32 },
    );
    const batches = [];
    for await (const b of loader.epoch(0)) batches.push(b);
    await loader.close();
    expect(batches).toHaveLength(1);
    const { images } = batches[0]!;
    expect(images.shape).toEqual([3, 36, 36, 3]);
    expect(loader.stats.decoded).toBe(3);
    // orientation-6.jpg is stored 36x48; upright and resized by sharp it is 48x36, and the
    // batch holds its 36x36 window at the centre crop's left edge (8).
    const upright = await decodeResized(join(JPEG, 'orientation-6.jpg'), 36, { decoder: 'sharp' });
    expect([upright.width, upright.height]).toEqual([48, 36]);
    const left = 8;
    expect(Array.from(images.crops.subarray(4, 6))).toEqual([(36 - 32) / 2, 0]);
    for (let y = 0; y < 36; y++) {
      const row = images.pixels.subarray((2 * 36 + y) * 36 * 3, ((2 * 36 + y) * 36 + 36) * 3);
      const expected = upright.data.subarray((y * 48 + left) * 3, (y * 48 + left + 36) * 3);
      expect(Buffer.compare(row, expected), `row ${y}`).toBe(0);
    }
  });
});
