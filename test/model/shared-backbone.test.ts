/**
 * createModelSharingBackbone: a model whose frozen backbone is another model's tensors. It
 * computes and trains exactly as a model with its own copy, holds no copy (one storage between
 * the models), outlives its source, and is refused where a backbone is trained or differs.
 */
import { afterAll, describe, expect, it } from 'vitest';

import { createModel, createModelSharingBackbone, type Model } from '../../lib/index.js';
import { TINY_NUM_CLASSES, TINY_VIT, trainingBatch } from '../helpers/common.js';

const { images, labels, shape } = await trainingBatch();
const options = {
  weights: TINY_VIT,
  numClasses: TINY_NUM_CLASSES,
  device: 'cpu' as const,
  prompt: { tokens: 3, deep: true },
  seed: 11,
};
const made: Model[] = [];
const keep = (m: Model) => {
  made.push(m);
  return m;
};
afterAll(() => {
  for (const m of made) m.dispose();
});

async function trainTwoSteps(m: Model): Promise<number[]> {
  m.configureOptimizer({ optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 1e-3 });
  const losses = [];
  for (let i = 0; i < 2; i++) losses.push((await m.trainStep(images, shape, labels)).loss);
  return losses;
}

describe('createModelSharingBackbone', () => {
  it('computes and trains exactly as a model with its own backbone copy, which stays unchanged', async () => {
    const source = keep(await createModel({ ...options, seed: 1 }));
    const own = keep(await createModel(options));
    const shared = keep(await createModelSharingBackbone(options, source));
    expect(await shared.forward(images, shape)).toEqual(await own.forward(images, shape));
    const before = await source.backboneTensors();
    expect(await trainTwoSteps(shared)).toEqual(await trainTwoSteps(own));
    expect(await shared.forward(images, shape)).toEqual(await own.forward(images, shape));
    expect(await source.backboneTensors()).toEqual(before);
    expect(await shared.backboneTensors()).toEqual(before);
  });

  it('holds one backbone among k models: the same storage, no copy; an own-copy model holds another', async () => {
    const source = keep(await createModel(options));
    const group = [source];
    for (let seed = 2; seed < 5; seed++)
      group.push(keep(await createModelSharingBackbone({ ...options, seed }, source)));
    const infos = group.map((m) => m.info());
    expect(new Set(infos.map((i) => i.backboneStorage)).size).toBe(1);
    expect(infos.every((i) => i.backboneShared && i.backboneBytes === infos[0]!.backboneBytes)).toBe(true);
    const own = keep(await createModel(options)).info();
    expect(own.backboneShared).toBe(false);
    expect(own.backboneStorage).not.toBe(infos[0]!.backboneStorage);
    expect(own.backboneStorage).not.toBe('');
  });

  it('keeps working after its source is disposed (the tensors live while a model holds them)', async () => {
    const source = await createModel(options);
    const shared = keep(await createModelSharingBackbone(options, source));
    const expected = await shared.forward(images, shape);
    source.dispose();
    expect(await shared.forward(images, shape)).toEqual(expected);
  });

  it('shares a backbone with a linear probe', async () => {
    const source = keep(await createModel(options));
    const linear = { ...options, transfer: 'linear' as const, prompt: null };
    const probe = keep(await createModelSharingBackbone(linear, source));
    expect(probe.info().backboneStorage).toBe(source.info().backboneStorage);
    const own = keep(await createModel(linear));
    expect(await trainTwoSteps(probe)).toEqual(await trainTwoSteps(own));
  });

  it('refuses full fine-tuning on either side, and a backbone of another shape or dtype, saying why', async () => {
    const source = keep(await createModel(options));
    const full = { ...options, transfer: 'full' as const, prompt: null };
    await expect(createModelSharingBackbone(full, source)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/"transfer": "full" trains backbone tensors.*"prompt", "linear" or "adapter"/),
    });
    const fullSource = keep(await createModel(full));
    await expect(createModelSharingBackbone(options, fullSource)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/cannot share the backbone: transfer 'full' trains backbone tensors/),
    });
    for (const transfer of ['bias', 'partial-1'] as const) {
      await expect(createModelSharingBackbone({ ...options, transfer, prompt: null }, source)).rejects.toMatchObject({
        code: 'VPT_OPTION',
        message: expect.stringContaining(`"transfer": "${transfer}" trains backbone tensors`),
      });
      const partSource = keep(await createModel({ ...options, transfer, prompt: null }));
      await expect(createModelSharingBackbone(options, partSource)).rejects.toMatchObject({
        code: 'VPT_OPTION',
        message: expect.stringMatching(
          /cannot share the backbone: transfer '(bias|partial-k)' trains backbone tensors/,
        ),
      });
    }
    await expect(createModelSharingBackbone({ ...options, imageSize: 48 }, source)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/cannot share the backbone: the backbones differ at pos_embed/),
    });
    await expect(createModelSharingBackbone({ ...options, backboneDtype: 'bfloat16' }, source)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/bfloat16 and the other in float32/),
    });
    const disposed = await createModel(options);
    disposed.dispose();
    await expect(createModelSharingBackbone(options, disposed)).rejects.toMatchObject({ code: 'VPT_DISPOSED' });
  });
});
