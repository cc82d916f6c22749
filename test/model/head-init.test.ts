/** `headBias`: VPT's head starts its bias at -log(99) (KMnP/vpt MLP special_bias); vpt-native at 0 unless asked. */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors } from '../../lib/index.js';
import { VPT_HEAD_BIAS } from '../../lib/model/head-init.js';
import { maxAbsDiff, randomFloats, TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('headBias', () => {
  it("sets every class's initial bias and shifts the logits by it, nothing else", async () => {
    expect(VPT_HEAD_BIAS).toBeCloseTo(-4.59512, 5);
    const base = { weights: TINY_VIT, numClasses: TINY_NUM_CLASSES, device: 'cpu', seed: 5 } as const;
    const zero = await createModel(base);
    const vpt = await createModel({ ...base, headBias: VPT_HEAD_BIAS });
    try {
      const file = join(tmp.dir, 'vpt.safetensors');
      await vpt.saveTrainable(file);
      const bias = (await readSafetensors(file)).tensors.get('head.bias')!.data;
      expect(Array.from(bias)).toEqual(new Array(TINY_NUM_CLASSES).fill(Math.fround(VPT_HEAD_BIAS)));
      const images = { pixels: randomFloats(2 * 3 * 32 * 32, 3, 1), shape: [2, 3, 32, 32] } as const;
      const a = await zero.forward(images);
      const b = await vpt.forward(images);
      expect(
        maxAbsDiff(
          b.map((v) => v - VPT_HEAD_BIAS),
          a,
        ),
      ).toBeLessThan(1e-5);
    } finally {
      zero.dispose();
      vpt.dispose();
    }
  });
});
