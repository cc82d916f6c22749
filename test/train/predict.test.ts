/**
 * predict() and evaluate() on a backbone whose architecture only the checkpoint records (a
 * .safetensors without config.json), predict's `topK` option, and its message for a bad image.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluate, predict } from '../../lib/index.js';
import { archOnlyCheckpoint, archOnlyTask, tempDir } from '../helpers/common.js';

const CLASSES = ['red', 'green', 'blue'];

let tmp: Awaited<ReturnType<typeof tempDir>>;
let weights: string;
let checkpoint: string;
let data: string;
let image: string;
beforeAll(async () => {
  tmp = await tempDir();
  ({ weights, image, data } = await archOnlyTask(tmp.dir));
  checkpoint = await archOnlyCheckpoint(weights, join(tmp.dir, 'tuned.safetensors'), { seed: 1, classNames: CLASSES });
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('the architecture recorded in the checkpoint', () => {
  it('rebuilds the model for predict() when the weights have no config.json and no arch is given', async () => {
    const [p] = await predict({ weights, checkpoint, images: [image], device: 'cpu' });
    expect(p!.top.map((t) => t.name).sort()).toEqual([...CLASSES].sort());
    expect(p!.top.reduce((a, t) => a + t.prob, 0)).toBeCloseTo(1, 5);
  });

  it('and for evaluate()', async () => {
    const r = await evaluate({ data, weights, checkpoint, split: 'train', device: 'cpu' });
    expect(r.count).toBeGreaterThan(0);
    expect(Number.isFinite(r.loss)).toBe(true);
  });

  it('an explicit arch still wins over it', async () => {
    await expect(
      predict({ weights, checkpoint, images: [image], arch: 'vit_small_patch16_32', device: 'cpu' }),
    ).rejects.toMatchObject({
      code: 'VPT_ARCH',
      message: expect.stringContaining('does not hold a vit_small_patch16_32'),
    });
  });
});

describe('predict() options', () => {
  it('topK must be an integer >= 1', async () => {
    for (const topK of [0, -1, 1.5, Number.NaN, Infinity]) {
      await expect(
        predict({ weights, checkpoint, images: [image], topK, device: 'cpu' }),
        String(topK),
      ).rejects.toMatchObject({
        code: 'VPT_OPTION',
        message: expect.stringMatching(/^Invalid option "topK": expected an integer >= 1, got number/),
      });
    }
  });

  it("topK lists that many classes, at most the checkpoint's", async () => {
    expect((await predict({ weights, checkpoint, images: [image], topK: 1, device: 'cpu' }))[0]!.top).toHaveLength(1);
    expect((await predict({ weights, checkpoint, images: [image], topK: 10, device: 'cpu' }))[0]!.top).toHaveLength(3);
  });

  it("a missing image is named, without the dataset loader's JSON entry and onBadImage hint", async () => {
    const missing = join(tmp.dir, 'no-such-bird.jpg');
    const error = await predict({ weights, checkpoint, images: [image, missing], device: 'cpu' }).catch(
      (e: unknown) => e as Error & { code: string },
    );
    expect(error.code).toBe('VPT_DATA');
    expect(error.message).toBe(`bad image ${missing}: file not found`);
    expect(error.message).not.toMatch(/JSON entry|onBadImage/);
  });
});
