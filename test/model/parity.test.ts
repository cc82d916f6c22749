/**
 * Golden parity with timm: fixtures made once by test/fixtures/generate.py (timm 1.0.x) on a
 * small real architecture (vit_tiny_patch16_224 with embed_dim=64, depth=3, heads=4, patch=8,
 * img=32). Tolerance: max |diff| <= 1e-4 on features and logits.
 */
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor } from '../../lib/index.js';
import { FIXTURES, golden, maxAbsDiff, TINY_NUM_CLASSES, TINY_VIT } from '../helpers/common.js';

const TOLERANCE = 1e-4;

let g: Map<string, HostTensor>;
let images: Float32Array;
const shape = [2, 3, 32, 32] as const;

beforeAll(async () => {
  g = await golden();
  images = g.get('images')!.data;
});

describe('parity with timm', () => {
  it('plain ViT features match timm forward_features + forward_head(pre_logits=True)', async () => {
    const model = await createModel({ weights: TINY_VIT, numClasses: TINY_NUM_CLASSES, prompt: null, device: 'cpu' });
    const features = await model.features(images, shape);
    const expected = g.get('plain.features')!.data;
    expect(features.length).toBe(2 * 64);
    expect(maxAbsDiff(features, expected)).toBeLessThanOrEqual(TOLERANCE);
    model.dispose();
  });

  const cases = [
    { name: 'linear', opts: { transfer: 'linear' as const, prompt: null } },
    { name: 'shallow', opts: { prompt: { tokens: 5 } } },
    { name: 'deep', opts: { prompt: { tokens: 5, deep: true } } },
    { name: 'deep_proj', opts: { prompt: { tokens: 4, deep: true, project: 16 } } },
  ];
  // Both paths: residual adds fused with the LayerNorm after them (the default), and one op each.
  for (const c of cases.flatMap((k) => [true, false].map((fusedLayerNorm) => ({ ...k, fusedLayerNorm })))) {
    it(`${c.name}${c.fusedLayerNorm ? '' : ' (unfused)'}: logits match the reference prompted forward on timm modules`, async () => {
      const model = await createModel({
        weights: TINY_VIT,
        numClasses: TINY_NUM_CLASSES,
        device: 'cpu',
        trainable: join(FIXTURES, `vpt_${c.name}.safetensors`),
        fusedLayerNorm: c.fusedLayerNorm,
        ...c.opts,
      });
      const logits = await model.forward(images, shape);
      const expected = g.get(`${c.name}.logits`)!.data;
      expect(logits.length).toBe(2 * TINY_NUM_CLASSES);
      expect(maxAbsDiff(logits, expected)).toBeLessThanOrEqual(TOLERANCE);
      model.dispose();
    });
  }

  it('prompts change the output (the test would catch prompts being ignored)', async () => {
    const shallow = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cpu',
      trainable: join(FIXTURES, 'vpt_shallow.safetensors'),
      prompt: { tokens: 5 },
    });
    const deep = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cpu',
      trainable: join(FIXTURES, 'vpt_deep.safetensors'),
      prompt: { tokens: 5, deep: true },
    });
    const a = await shallow.features(images, shape);
    const b = await deep.features(images, shape);
    expect(maxAbsDiff(a, g.get('plain.features')!.data)).toBeGreaterThan(1e-2);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(1e-2);
    shallow.dispose();
    deep.dispose();
  });
});
