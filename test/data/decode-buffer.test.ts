/** `decodeResizedBuffer` (an upload in memory) gives the same pixels as `decodeResized` of the file. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../../lib/binding.js';
import { decodeResized, decodeResizedBuffer } from '../../lib/data/decode-image.js';
import { tempDir } from '../helpers/common.js';
import { writeJpeg } from '../helpers/data.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let path: string;

beforeAll(async () => {
  tmp = await tempDir();
  path = join(tmp.dir, 'a.jpg');
  await writeJpeg(path, 61, 45, 5);
});
afterAll(() => tmp.cleanup());

describe('decodeResizedBuffer', () => {
  it('decodes a JPEG natively, bit for bit as the file path does, in both fits', async () => {
    const bytes = await readFile(path);
    for (const options of [{}, { fit: 'fill' as const }]) {
      const fromFile = await decodeResized(path, 37, { ...options, decoder: 'native' });
      const fromBytes = await decodeResizedBuffer(bytes, 'upload', 37, { ...options, decoder: 'native' });
      expect([fromBytes.width, fromBytes.height]).toEqual([fromFile.width, fromFile.height]);
      expect(Buffer.from(fromBytes.data).equals(Buffer.from(fromFile.data))).toBe(true);
    }
  });

  it('names the upload in errors: a truncated JPEG, and the pixel limit', async () => {
    const bytes = await readFile(path);
    await expect(decodeResizedBuffer(bytes.subarray(0, 200), 'upload', 37)).rejects.toThrow(/bad image upload/);
    await expect(decodeResizedBuffer(bytes, 'upload', 37, { maxPixels: 100 })).rejects.toThrow(
      /image too large upload/,
    );
  });

  it('the native decoder takes exactly one of path and bytes', () => {
    const decode = loadAddon().addon.decodeJpegFile!;
    expect(() => decode({ path, bytes: new Uint8Array(4), shorter: 8 })).toThrow(/exactly one of 'path'/);
    expect(() => decode({ shorter: 8 })).toThrow(/exactly one of 'path'/);
  });
});
