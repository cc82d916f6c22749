/**
 * `.npz` arrays of dtypes vpt-native does not load (a Flax optimizer's int32 step counter beside
 * `opt/target/...`) are refused only when they would be loaded: the file is usable when they lie
 * outside the backbone's arrays, and named when they lie inside.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel } from '../../lib/index.js';
import { readNpz } from '../../lib/weights/npz.js';
import { maxAbsDiff, tempDir } from '../helpers/common.js';
import { f32, npy, VARIANTS, zip } from '../helpers/weights.js';

const base = { numClasses: 5, device: 'cpu', prompt: null } as const;
const OUT = 'Transformer/encoderblock_0/MultiHeadDotProductAttention_1/out/kernel';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let arrays: Array<{ name: string; shape: number[]; data: Float32Array }>;
let count = 0;
beforeAll(async () => {
  tmp = await tempDir();
  const npz = await readNpz(join(VARIANTS, 'google', 'vit_jax.npz'));
  const bytes = await readFile(npz.dataPath);
  arrays = npz.entries.map((e) => ({
    name: e.name,
    shape: e.shape,
    data: new Float32Array(bytes.buffer.slice(bytes.byteOffset + e.offset, bytes.byteOffset + e.offset + e.nbytes)),
  }));
  await npz.close();
});
afterAll(async () => {
  await tmp.cleanup();
});

/** The fixture's float arrays under `prefix`, plus `extra` raw members, as an npz beside the fixture's config.json. */
async function npzFile(
  prefix: string,
  extra: Array<{ name: string; data: Uint8Array }>,
  compress = false,
): Promise<string> {
  const dir = join(tmp.dir, `case${count++}`);
  await mkdir(dir);
  await copyFile(join(VARIANTS, 'google', 'config.json'), join(dir, 'config.json'));
  const path = join(dir, 'model.npz');
  const members = arrays.map((a) => ({ name: `${prefix}${a.name}.npy`, data: npy(a.shape, f32(a.data)) }));
  await writeFile(path, zip([...members, ...extra], { compress }));
  return path;
}

const int32 = (values: number[]) => new Uint8Array(Int32Array.from(values).buffer);

async function features(weights: string): Promise<Float32Array> {
  const model = await createModel({ ...base, weights });
  try {
    return await model.features(new Float32Array(2 * 3 * 32 * 32).fill(0.25), [2, 3, 32, 32]);
  } finally {
    model.dispose();
  }
}

describe('non-float .npz arrays', () => {
  const optimizerState = [
    { name: 'opt/state/step.npy', data: npy([], int32([1000]), { descr: '<i4' }) },
    { name: 'opt/state/param_states/embedding/kernel/count.npy', data: npy([2], new Uint8Array(16), { descr: '<u8' }) },
    { name: 'opt/state/flags.npy', data: npy([3], new Uint8Array([1, 0, 1]), { descr: '|b1' }) },
    { name: 'opt/state/names.npy', data: npy([1], new Uint8Array(16), { descr: '<U4' }) },
  ];

  it('a Flax optimizer checkpoint with int32 / uint64 / bool / str state beside opt/target/ loads, stored or compressed', async () => {
    const reference = await features(join(VARIANTS, 'google', 'vit_jax.npz'));
    for (const compress of [false, true]) {
      const path = await npzFile('opt/target/', optimizerState, compress);
      expect(maxAbsDiff(await features(path), reference)).toBe(0);
    }
  });

  it('readNpz lists them apart, never as loadable entries', async () => {
    for (const compress of [false, true]) {
      const npz = await readNpz(await npzFile('opt/target/', optimizerState, compress));
      try {
        expect(npz.others).toEqual([
          { name: 'opt/state/step', descr: '<i4', shape: [] },
          { name: 'opt/state/param_states/embedding/kernel/count', descr: '<u8', shape: [2] },
          { name: 'opt/state/flags', descr: '|b1', shape: [3] },
          { name: 'opt/state/names', descr: '<U4', shape: [1] },
        ]);
        expect(npz.entries.every((e) => ['F16', 'F32', 'F64'].includes(e.dtype))).toBe(true);
        expect(npz.entries).toHaveLength(arrays.length);
      } finally {
        await npz.close();
      }
    }
  });

  it('a non-float array among the backbone arrays is refused by name', async () => {
    const path = await npzFile('', [
      { name: 'Transformer/extra_counter.npy', data: npy([1], int32([3]), { descr: '<i4' }) },
    ]);
    await expect(createModel({ ...base, weights: path })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringMatching(
        /array "Transformer\/extra_counter" has dtype '<i4'; only float16\/32\/64 arrays are supported/,
      ),
    });
    const big = await npzFile('params/', [
      { name: `params/${OUT}x.npy`, data: npy([2], new Uint8Array(8), { descr: '>i4' }) },
    ]);
    await expect(createModel({ ...base, weights: big })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringContaining(`array "params/${OUT}x" has dtype '>i4'`),
    });
  });

  it('a non-float head/ or pre_logits/ array, which the backbone never loads, is ignored', async () => {
    const path = await npzFile('', [{ name: 'head/step.npy', data: npy([1], int32([3]), { descr: '<i4' }) }]);
    (await createModel({ ...base, weights: path })).dispose();
  });

  it('sizes are still checked against the dtype, and object arrays still refused', async () => {
    const short = await npzFile('opt/target/', [
      { name: 'opt/state/step.npy', data: npy([4], int32([1]), { descr: '<i4' }) },
    ]);
    await expect(createModel({ ...base, weights: short })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringContaining('array "opt/state/step" shape [4] <i4 needs 16 bytes, the member holds 4'),
    });
    const pickled = await npzFile('opt/target/', [
      { name: 'opt/state/obj.npy', data: npy([1], new Uint8Array(8), { descr: '|O' }) },
    ]);
    await expect(createModel({ ...base, weights: pickled })).rejects.toMatchObject({
      code: 'VPT_WEIGHTS',
      message: expect.stringContaining('object array'),
    });
  });
});
