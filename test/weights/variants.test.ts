/**
 * timm's ViT variants compute exactly as timm: fixtures from test/fixtures/generate_variants.py
 * (timm 1.0.x), each a tiny vit_tiny_patch16_224 (embed_dim=32, depth=2, heads=2, patch=8,
 * img=32) with one variant's model_args. Features are timm's own forward; prompted logits come
 * from a reference forward on timm's modules. Tolerance: max |diff| <= 1e-4.
 */
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor, readSafetensors, readSafetensorsHeader } from '../../lib/index.js';
import { maxAbsDiff } from '../helpers/common.js';
import { VARIANTS } from '../helpers/weights.js';

const TOLERANCE = 1e-4;
const NUM_CLASSES = 5;
const shape = [2, 3, 32, 32] as const;

/** Variant folder -> what the variant exercises. */
const CASES: Record<string, string> = {
  base: 'the plain ViT',
  avg_fc_norm: "global_pool='avg' with fc_norm (prompts pooled out)",
  avg_no_fc_norm: "global_pool='avg', fc_norm=False (final norm before pooling)",
  layer_scale: 'LayerScale (init_values; ls1/ls2.gamma), stored as F16',
  no_qkv_bias: 'qkv_bias=False',
  no_class_token: "class_token=False with global_pool='avg'",
  reg_tokens: 'reg_tokens=4 (prompts after the registers)',
  no_embed_class: 'no_embed_class=True with reg_tokens=2',
  mlp_ratio: 'mlp_ratio=2.5, stored as BF16',
};

let golden: Map<string, HostTensor>;
let images: Float32Array;
beforeAll(async () => {
  golden = (await readSafetensors(join(VARIANTS, 'golden.safetensors'))).tensors;
  images = golden.get('images')!.data;
});

const expected = (key: string) => {
  const t = golden.get(key);
  if (!t) throw new Error(`golden tensor ${key} missing`);
  return t.data;
};

describe('timm variants match timm', () => {
  for (const [variant, what] of Object.entries(CASES)) {
    const weights = join(VARIANTS, variant);
    it(`${variant}: ${what} — features, shallow and deep prompts`, async () => {
      const plain = await createModel({ weights, numClasses: NUM_CLASSES, prompt: null, device: 'cpu' });
      const features = await plain.features(images, shape);
      plain.dispose();
      const diffs: Record<string, number> = { features: maxAbsDiff(features, expected(`${variant}.features`)) };
      for (const deep of [false, true]) {
        const name = deep ? 'deep' : 'shallow';
        // Both paths: fused add + LayerNorm (the default), and one op each.
        for (const fusedLayerNorm of [true, false]) {
          const model = await createModel({
            weights,
            numClasses: NUM_CLASSES,
            device: 'cpu',
            prompt: { tokens: 3, deep },
            trainable: join(VARIANTS, `vpt_${name}.safetensors`),
            fusedLayerNorm,
          });
          diffs[`${name}${fusedLayerNorm ? '' : ' (unfused)'}`] = maxAbsDiff(
            await model.forward(images, shape),
            expected(`${variant}.${name}.logits`),
          );
          model.dispose();
        }
      }
      for (const [name, diff] of Object.entries(diffs))
        expect(diff, `${variant} ${name}`).toBeLessThanOrEqual(TOLERANCE);
    });
  }

  it('the half-precision fixtures really are F16 and BF16', async () => {
    const dtypes = async (v: string) =>
      new Set((await readSafetensorsHeader(join(VARIANTS, v, 'model.safetensors'))).entries.map((e) => e.dtype));
    expect(await dtypes('layer_scale')).toEqual(new Set(['F16']));
    expect(await dtypes('mlp_ratio')).toEqual(new Set(['BF16']));
  });
});
