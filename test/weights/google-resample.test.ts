/**
 * A Google `.npz` run at another image size matches timm: timm loads these files with its npz
 * loader (`_load_weights` in timm/models/vision_transformer.py), which resamples the position
 * embedding with `interpolation='bilinear', antialias=False`, not with the bicubic + antialias
 * of `checkpoint_filter_fn` (the .safetensors path, test/weights/resample.test.ts).
 * Fixtures: test/fixtures/generate_google_resample.py (the 32-px checkpoints, grid 4 x 4, at
 * 56 px, grid 7 x 7, and at 24 px, grid 3 x 3). Tolerance: max |diff| <= 1e-4.
 */
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { type HostTensor, readSafetensors } from '../../lib/index.js';
import { maxAbsDiff } from '../helpers/common.js';
import { VARIANTS, variantOutput } from '../helpers/weights.js';

const TOLERANCE = 1e-4;
const FILES = ['vit_jax', 'opt_target', 'big_vision'];
const SIZES = [56, 24];

let golden: Map<string, HostTensor>;
let reference: Map<string, HostTensor>;
beforeAll(async () => {
  golden = (await readSafetensors(join(VARIANTS, 'golden.safetensors'))).tensors;
  reference = (await readSafetensors(join(VARIANTS, 'google_resample.safetensors'))).tensors;
});

async function run(weights: string, size: number, deep: boolean): Promise<Float32Array> {
  return (await variantOutput(weights, size, deep, golden.get(size === 32 ? 'images' : `images_${size}`)!.data)).out;
}

describe("a Google .npz at another image size resamples as timm's npz loader (bilinear, no antialias)", () => {
  for (const file of FILES) {
    for (const size of SIZES) {
      it(`${file}.npz at ${size} px: features and deep-prompt logits`, async () => {
        const weights = join(VARIANTS, 'google', `${file}.npz`);
        expect(
          maxAbsDiff(await run(weights, size, false), reference.get(`${file}@${size}.features`)!.data),
        ).toBeLessThanOrEqual(TOLERANCE);
        expect(
          maxAbsDiff(await run(weights, size, true), reference.get(`${file}@${size}.deep.logits`)!.data),
        ).toBeLessThanOrEqual(TOLERANCE);
      });
    }
  }

  it('the same weights as .safetensors still resample bicubic with antialias, and the two differ', async () => {
    const npz = await run(join(VARIANTS, 'google', 'vit_jax.npz'), 24, false);
    const safetensors = await run(join(VARIANTS, 'base'), 24, false);
    expect(maxAbsDiff(safetensors, golden.get('base@24.features')!.data)).toBeLessThanOrEqual(TOLERANCE);
    expect(maxAbsDiff(npz, safetensors)).toBeGreaterThan(10 * TOLERANCE);
  });

  it("at the checkpoint's own size nothing is resampled: the .npz equals the .safetensors", async () => {
    expect(
      maxAbsDiff(await run(join(VARIANTS, 'google', 'vit_jax.npz'), 32, false), golden.get('base.features')!.data),
    ).toBeLessThanOrEqual(TOLERANCE);
  });
});
