/**
 * Prompts in the last k blocks only (reverseDeep): the frozen, prompt-free blocks below them give
 * each image the same output every epoch. `stemFeatures` + `trainStepStem` step as `trainStep`
 * does (against KMnP/vpt's fixture, test/fixtures/generate_deep_variants.py), and train() without
 * augmentation caches them, training as without the cache.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, type HostTensor, readSafetensors, type TrainConfig, train, VptError } from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, syntheticTask, tempDir } from '../helpers/common.js';

const DIR = join(FIXTURES, 'deep_variants');
const shape = [4, 3, 32, 32] as const;
const ONE_STEP_TOLERANCE = 1e-5;

let tmp: Awaited<ReturnType<typeof tempDir>>;
let g: Map<string, HostTensor>;

beforeAll(async () => {
  tmp = await tempDir();
  g = (await readSafetensors(join(DIR, 'golden.safetensors'))).tensors;
});
afterAll(async () => {
  await tmp.cleanup();
});

const reverse = (extra: Record<string, unknown> = {}) =>
  createModel({
    weights: join(DIR, 'backbone', 'ViT-tiny.npz'),
    numClasses: 5,
    device: 'cpu',
    prompt: { tokens: 3, deep: true, deepLayers: 2, reverseDeep: true },
    trainable: join(DIR, 'reverse_k2.safetensors'),
    ...extra,
  });

describe('stem features', () => {
  it('a step on stem features equals the step on the images (KMnP fixture)', async () => {
    const model = await reverse();
    try {
      expect(model.info().stemBlocks).toBe(2);
      const images = g.get('images')!.data;
      const labels = Int32Array.from(g.get('labels')!.data);
      const stem = await model.stemFeatures({ pixels: images, shape: [...shape] });
      expect(stem.length).toBe(4 * 17 * 32);
      model.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
      await model.trainStepStem(stem, labels);
      const file = join(tmp.dir, 'stem-step.safetensors');
      await model.saveTrainable(file);
      const { tensors } = await readSafetensors(file);
      for (const [name, t] of tensors) {
        expect(maxAbsDiff(t.data, g.get(`sgd1.reverse_k2.${name}`)!.data), name).toBeLessThanOrEqual(
          ONE_STEP_TOLERANCE,
        );
      }
    } finally {
      model.dispose();
    }
  });

  it('models whose first block has prompts have no stem, and say so', async () => {
    const model = await createModel({
      weights: join(DIR, 'backbone', 'ViT-tiny.npz'),
      numClasses: 5,
      device: 'cpu',
      prompt: { tokens: 3, deep: true, deepLayers: 2 },
    });
    try {
      expect(model.info().stemBlocks).toBe(0);
      const error = await model
        .stemFeatures({ pixels: new Float32Array(3 * 32 * 32), shape: [1, 3, 32, 32] })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as Error).message).toMatch(/reverseDeep/);
    } finally {
      model.dispose();
    }
  });
});

describe('train() caches the stem without augmentation', () => {
  it('trains as without the cache', async () => {
    const { data, weights } = await syntheticTask(
      tmp.dir,
      { classes: 3, imagesPerClass: 8, imageSize: 40, seed: 5 },
      { embedDim: 32, depth: 4, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
    );
    const config: Omit<TrainConfig, 'out'> = {
      data,
      weights,
      epochs: 3,
      warmupEpochs: 1,
      batchSize: 8,
      baseLr: 2,
      deep: true,
      deepLayers: 2,
      reverseDeep: true,
      promptTokens: 3,
      augment: false,
      cropSize: 32,
      device: 'cpu',
      seed: 7,
      workers: 1,
    };
    const cached = await train({ ...config, out: join(tmp.dir, 'run-cached') });
    const plain = await train({ ...config, cacheFeatures: false, out: join(tmp.dir, 'run-plain') });
    expect(cached.cachedFeatureSteps).toBeGreaterThanOrEqual(cached.epochs[0]!.step);
    expect(plain.cachedFeatureSteps).toBe(0);
    cached.epochs.forEach((m, e) => {
      const p = plain.epochs[e]!;
      expect([m.epoch, m.step, m.lr, m.train.top1, m.val?.top1]).toEqual([
        p.epoch,
        p.step,
        p.lr,
        p.train.top1,
        p.val?.top1,
      ]);
      expect(m.train.loss).toBeCloseTo(p.train.loss, 5);
    });
  });
});
