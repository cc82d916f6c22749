/**
 * `.npz` layouts numpy writes (test/fixtures/generate_npz_layouts.py, by numpy itself): Fortran
 * order, big-endian floats, 0-d and 1-d arrays, `.npy` format 1.0 / 2.0 / 3.0, stored and
 * compressed. Each array must read as numpy's values, exactly; a pickled object array stays refused.
 */
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors } from '../../lib/index.js';
import { readNpz, toLittleEndianCOrder } from '../../lib/weights/npz.js';
import { FIXTURES, tempDir } from '../helpers/common.js';
import { VARIANTS } from '../helpers/weights.js';

const LAYOUTS = join(FIXTURES, 'npz_layouts');

interface Expected {
  dtype: 'F16' | 'F32' | 'F64';
  shape: number[];
  values: number[];
}

let expected: Record<string, Record<string, Expected>>;
let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  expected = JSON.parse(await readFile(join(LAYOUTS, 'expected.json'), 'utf8'));
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

function halfToNumber(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** Little-endian C-order bytes as numbers. */
function decode(bytes: Buffer, dtype: string): number[] {
  const out: number[] = [];
  const size = { F16: 2, F32: 4, F64: 8 }[dtype]!;
  for (let i = 0; i < bytes.length; i += size) {
    if (dtype === 'F16') out.push(halfToNumber(bytes.readUInt16LE(i)));
    else if (dtype === 'F32') out.push(bytes.readFloatLE(i));
    else out.push(bytes.readDoubleLE(i));
  }
  return out;
}

const npzTemps = async () => (await readdir(tmpdir())).filter((n) => n.startsWith('vpt-npz-')).length;

describe('npz layouts numpy writes', () => {
  for (const name of ['layouts', 'layouts_compressed', 'versions']) {
    it(`${name}.npz: every array reads as numpy's values, exactly`, async () => {
      const before = await npzTemps();
      const npz = await readNpz(join(LAYOUTS, `${name}.npz`));
      try {
        expect(npz.others).toEqual([]);
        const want = expected[name]!;
        expect(npz.entries.map((e) => e.name).sort()).toEqual(Object.keys(want).sort());
        // Big-endian or Fortran arrays are converted into a temporary file.
        expect(npz.dataPath).not.toBe(join(LAYOUTS, `${name}.npz`));
        const data = await readFile(npz.dataPath);
        for (const e of npz.entries) {
          const w = want[e.name]!;
          expect({ name: e.name, dtype: e.dtype, shape: e.shape }).toEqual({
            name: e.name,
            dtype: w.dtype,
            shape: w.shape,
          });
          expect(e.offset + e.nbytes).toBeLessThanOrEqual(data.length);
          expect(e.nbytes).toBe(w.values.length * { F16: 2, F32: 4, F64: 8 }[w.dtype]);
          expect(decode(data.subarray(e.offset, e.offset + e.nbytes), e.dtype), e.name).toEqual(w.values);
        }
      } finally {
        await npz.close();
      }
      expect(await npzTemps()).toBe(before);
    });
  }

  it('the .npy format versions 1.0, 2.0 and 3.0 are all read', async () => {
    const bytes = await readFile(join(LAYOUTS, 'versions.npz'));
    for (const v of [1, 2, 3])
      expect(bytes.includes(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, v, 0]))).toBe(true);
  });

  it('a pickled object array written by np.savez is still refused', async () => {
    await expect(readNpz(join(LAYOUTS, 'object.npz'))).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringMatching(/array "evil" is an object array, stored as a pickle; vpt-native never unpickles/),
    });
  });

  it('a little-endian C-order archive is still read in place', async () => {
    const npz = await readNpz(join(VARIANTS, 'google', 'vit_jax.npz'));
    expect(npz.dataPath).toBe(join(VARIANTS, 'google', 'vit_jax.npz'));
    await npz.close();
  });

  it('transposes any rank and byte-swaps every float width (unit)', () => {
    // A 2 x 3 x 2 array 0..11 in C order, stored in Fortran order: element (i, j, k) at i + 2j + 6k.
    const c = Array.from({ length: 12 }, (_, n) => n);
    const fortran = new Float64Array(12);
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) fortran[i + 2 * j + 6 * k] = c[i * 6 + j * 2 + k]!;
    const be = Buffer.from(fortran.buffer).swap64();
    const out = toLittleEndianCOrder([be.subarray(0, 40), be.subarray(40)], {
      shape: [2, 3, 2],
      itemBytes: 8,
      swap: true,
      transpose: true,
    });
    expect(Array.from(new Float64Array(out.buffer, out.byteOffset, 12))).toEqual(c);
  });

  it("a Google checkpoint saved Fortran-order and big-endian gives the original's model, bit for bit", async () => {
    const dir = join(tmp.dir, 'fortran');
    await mkdir(dir);
    await copyFile(join(VARIANTS, 'google', 'config.json'), join(dir, 'config.json'));
    await copyFile(join(LAYOUTS, 'vit_jax_fortran_be.npz'), join(dir, 'model.npz'));
    const images = (await readSafetensors(join(VARIANTS, 'golden.safetensors'))).tensors.get('images')!.data;
    const shape = [2, 3, 32, 32] as const;
    const features = async (weights: string) => {
      const model = await createModel({ weights, numClasses: 5, prompt: null, device: 'cpu' });
      try {
        return await model.features(images, shape);
      } finally {
        model.dispose();
      }
    };
    const original = await features(join(VARIANTS, 'google', 'vit_jax.npz'));
    const converted = await features(join(dir, 'model.npz'));
    expect(Array.from(converted)).toEqual(Array.from(original));
  });
});
