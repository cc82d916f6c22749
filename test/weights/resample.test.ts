/**
 * A checkpoint run at another image size matches timm's model created at that size with the
 * checkpoint loaded through timm's checkpoint_filter_fn (resample_abs_pos_embed: bicubic,
 * antialias, prefix tokens kept). Fixtures: test/fixtures/generate_variants.py; the 32-px
 * checkpoints (4 x 4 grid) run at 56 px (7 x 7, like 224 -> 384) and 24 px (3 x 3, where the
 * antialiasing matters). Tolerance: max |diff| <= 1e-4. A Google .npz resamples as timm's npz
 * loader does instead (bilinear): test/weights/google-resample.test.ts.
 */
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor, readSafetensors } from '../../lib/index.js';
import { maxAbsDiff } from '../helpers/common.js';
import { VARIANT_CLASSES, VARIANTS, variantOutput } from '../helpers/weights.js';

const TOLERANCE = 1e-4;

let golden: Map<string, HostTensor>;
beforeAll(async () => {
  golden = (await readSafetensors(join(VARIANTS, 'golden.safetensors'))).tensors;
});

const CASES = [
  { variant: 'base', size: 56, what: 'class token kept, grid 4 -> 7' },
  { variant: 'base', size: 24, what: 'downsampled, grid 4 -> 3' },
  { variant: 'reg_tokens', size: 56, what: 'class + 4 register rows kept' },
  { variant: 'no_embed_class', size: 56, what: 'no prefix rows in pos_embed' },
  { variant: 'no_class_token', size: 56, what: 'no prefix tokens, avg pooling' },
];

const run = (weights: string, size: number, deep: boolean) =>
  variantOutput(weights, size, deep, golden.get(`images_${size}`)!.data);

describe('position-embedding resampling matches timm', () => {
  for (const c of CASES) {
    it(`${c.variant} at ${c.size} px (${c.what}): features and deep-prompt logits`, async () => {
      const weights = join(VARIANTS, c.variant);
      const plain = await run(weights, c.size, false);
      expect(plain.info.imageSize).toBe(c.size);
      expect(maxAbsDiff(plain.out, golden.get(`${c.variant}@${c.size}.features`)!.data)).toBeLessThanOrEqual(TOLERANCE);
      const deep = await run(weights, c.size, true);
      expect(maxAbsDiff(deep.out, golden.get(`${c.variant}@${c.size}.deep.logits`)!.data)).toBeLessThanOrEqual(
        TOLERANCE,
      );
    });
  }

  it('images must then have the new size', async () => {
    const model = await createModel({
      weights: join(VARIANTS, 'base'),
      numClasses: VARIANT_CLASSES,
      device: 'cpu',
      imageSize: 56,
    });
    await expect(model.forward(new Float32Array(3 * 32 * 32), [1, 3, 32, 32])).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringContaining('[n, 3, 56, 56]'),
    });
    model.dispose();
  });

  it('an image size that is not a multiple of the patch size is refused by name', async () => {
    await expect(
      createModel({ weights: join(VARIANTS, 'base'), numClasses: VARIANT_CLASSES, device: 'cpu', imageSize: 50 }),
    ).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/"imageSize".*multiple of the patch size 8, got 50/),
    });
  });
});
