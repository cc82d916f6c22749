/**
 * `normalize`: the weights' config.json (timm, the default), ImageNet's mean / std as KMnP/vpt
 * normalises, or explicit values; recorded in the trainable state and reused by a trained model.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, resolveTrainConfig, VptError } from '../../lib/index.js';
import { parseNormalize, VPT_NORMALIZATION } from '../../lib/model/normalization.js';
import { loadTrainedModel } from '../../lib/train/trained-model.js';
import { TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const base = { weights: TINY_VIT, numClasses: TINY_NUM_CLASSES, device: 'cpu' } as const;

describe('normalize', () => {
  it('parses timm, vpt and six numbers; anything else names the option', () => {
    expect(parseNormalize('timm')).toBe('timm');
    expect(parseNormalize('vpt')).toBe('vpt');
    expect(parseNormalize('0.1,0.2,0.3, 1,2,3')).toEqual({ mean: [0.1, 0.2, 0.3], std: [1, 2, 3] });
    for (const bad of ['imagenet', '1,2,3', '0,0,0,1,0,1', '0,0,0,1,x,1']) {
      expect(() => parseNormalize(bad), bad).toThrow(/Invalid option "normalize"/);
    }
    expect(() => resolveTrainConfig({ data: 'd', weights: 'w', out: 'o', normalize: 'imagenet' })).toThrow(
      /"normalize"/,
    );
  });

  it("timm keeps the weights' mean / std; vpt and explicit values replace them, and a trained model keeps them", async () => {
    const timm = await createModel(base);
    expect(timm.info().mean).toEqual([0.5, 0.5, 0.5]);
    timm.dispose();
    const vpt = await createModel({ ...base, normalize: 'vpt' });
    expect(vpt.info().mean).toEqual([...VPT_NORMALIZATION.mean]);
    expect(vpt.info().std).toEqual([...VPT_NORMALIZATION.std]);
    const file = join(tmp.dir, 'vpt.safetensors');
    await vpt.saveTrainable(file);
    vpt.dispose();
    const { model } = await loadTrainedModel({ weights: TINY_VIT, checkpoint: file, device: 'cpu' });
    expect(model.info().std).toEqual([...VPT_NORMALIZATION.std]);
    model.dispose();
    const own = await createModel({ ...base, normalize: { mean: [0.1, 0.2, 0.3], std: [0.4, 0.5, 0.6] } });
    expect([own.info().mean, own.info().std]).toEqual([
      [0.1, 0.2, 0.3],
      [0.4, 0.5, 0.6],
    ]);
    own.dispose();
  });

  it('the uint8 path normalises with the chosen values', async () => {
    const vpt = await createModel({ ...base, normalize: 'vpt' });
    try {
      const S = vpt.info().imageSize;
      const pixels = Uint8Array.from({ length: S * S * 3 }, (_, i) => (i * 37) % 256);
      const batch = {
        pixels,
        shape: [1, S, S, 3] as [number, number, number, 3],
        crops: new Int32Array(2),
        flips: new Uint8Array(1),
        cropSize: S,
      };
      const fromU8 = await vpt.forward(batch);
      const f32 = new Float32Array(3 * S * S);
      for (let c = 0; c < 3; c++)
        for (let p = 0; p < S * S; p++)
          f32[c * S * S + p] = (pixels[p * 3 + c]! / 255 - VPT_NORMALIZATION.mean[c]!) / VPT_NORMALIZATION.std[c]!;
      const fromF32 = await vpt.forward({ pixels: f32, shape: [1, 3, S, S] });
      for (let i = 0; i < fromU8.length; i++) expect(Math.abs(fromU8[i]! - fromF32[i]!)).toBeLessThan(1e-4);
    } finally {
      vpt.dispose();
    }
  });

  it('an unknown value is a VPT_OPTION error', async () => {
    const e = await createModel({ ...base, normalize: 'imagenet' as 'vpt' }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(VptError);
    expect((e as Error).message).toMatch(/normalize/);
  });
});
