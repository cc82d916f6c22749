/**
 * `ModelInput`: every batch method of `Model` takes one batch argument (float pixels with their
 * shape, a uint8 batch, or a staged batch), and the deprecated `(images, shape, ...)` forms still
 * give exactly the same results. Bad inputs keep their codes: a bad shape is VPT_SHAPE, a bad
 * label or another model's staged batch VPT_OPTION.
 */
import { describe, expect, it } from 'vitest';

import { createModel, type ImageBatchF32, type ImageBatchU8, type Model, type ModelInput } from '../../lib/index.js';
import { maxAbsDiff, randomFloats, TINY_NUM_CLASSES, TINY_VIT } from '../helpers/common.js';

const shape = [4, 3, 32, 32] as const;
const images = randomFloats(4 * 3 * 32 * 32, 21);
const labels = Int32Array.from([0, 3, 5, 6]);
const floats: ImageBatchF32 = { pixels: images, shape };

async function tinyModel(seed = 7): Promise<Model> {
  return createModel({
    weights: TINY_VIT,
    numClasses: TINY_NUM_CLASSES,
    device: 'cpu',
    seed,
    prompt: { tokens: 3, deep: true },
  });
}

function u8Batch(seed: number): ImageBatchU8 {
  const n = 4,
    h = 40,
    w = 36;
  const pixels = Uint8Array.from(randomFloats(n * h * w * 3, seed), (v) => Math.floor((v + 1) * 127.5) & 255);
  const crops = Int32Array.from({ length: n * 2 }, (_, i) =>
    i % 2 === 0 ? (i * 3 + seed) % (h - 32 + 1) : (i * 5 + seed) % (w - 32 + 1),
  );
  const flips = Uint8Array.from({ length: n }, (_, i) => (i + seed) % 2);
  return { pixels, shape: [n, h, w, 3], crops, flips, cropSize: 32 };
}

function bytes(a: Float32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

describe('the deprecated (images, shape) forms give the same results as ImageBatchF32', () => {
  it('forward, features and evaluate', async () => {
    const m = await tinyModel();
    expect(bytes(await m.forward(floats)).equals(bytes(await m.forward(images, shape)))).toBe(true);
    expect(bytes(await m.features(floats)).equals(bytes(await m.features(images, shape)))).toBe(true);
    const a = await m.evaluate(floats, labels, { logits: true });
    const b = await m.evaluate(images, shape, labels, { logits: true });
    expect(a.logits).toBeDefined();
    expect(bytes(a.logits!).equals(bytes(b.logits!))).toBe(true);
    expect({ ...a, logits: undefined }).toEqual({ ...b, logits: undefined });
    const plain = await m.evaluate(floats, labels);
    expect(plain.logits).toBeUndefined();
    expect(plain.loss).toBe(a.loss);
    expect((await m.evaluate(images, shape, labels)).logits).toBeUndefined();
    m.dispose();
  });

  it('trainStep: twin models stay identical step after step', async () => {
    const [a, b] = await Promise.all([tinyModel(), tinyModel()]);
    for (const m of [a, b]) m.configureOptimizer({ optimizer: 'sgd', lr: 0.1, momentum: 0.9 });
    for (let step = 0; step < 3; step++) {
      const ra = await a.trainStep(floats, labels);
      const rb = await b.trainStep(images, shape, labels);
      expect(ra).toEqual(rb);
    }
    expect(bytes(await a.forward(floats)).equals(bytes(await b.forward(images, shape)))).toBe(true);
    a.dispose();
    b.dispose();
  });
});

describe('every batch method takes every ModelInput', () => {
  it('uint8 and staged batches: forward, features, evaluate, trainStep', async () => {
    const [a, b] = await Promise.all([tinyModel(), tinyModel()]);
    const batch = u8Batch(3);
    const staged = await a.upload(batch);
    const pre: ModelInput = { pixels: await a.preprocess(batch), shape };
    // forward: the uint8 batch, its staged copy, and its preprocessed floats.
    const logits = await a.forward(batch);
    expect(bytes(await a.forward(staged)).equals(bytes(logits))).toBe(true);
    expect(maxAbsDiff(await a.forward(pre), logits)).toBeLessThanOrEqual(1e-5);
    // features of a uint8 batch are the features of its preprocessed floats.
    const features = await a.features(batch);
    expect(bytes(features).equals(bytes(await a.features(pre)))).toBe(true);
    expect(bytes(await a.features(staged)).equals(bytes(features))).toBe(true);
    // evaluate and trainStep: staged == uint8 batch.
    const ea = await a.evaluate(staged, labels, { logits: true });
    const eb = await b.evaluate(batch, labels, { logits: true });
    expect(bytes(ea.logits!).equals(bytes(eb.logits!))).toBe(true);
    for (const m of [a, b]) m.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
    expect(await a.trainStep(staged, labels)).toEqual(await b.trainStep(batch, labels));
    a.dispose();
    b.dispose();
  });
});

describe('bad inputs keep their codes in every form', () => {
  it('a bad shape is VPT_SHAPE; a bad label VPT_OPTION; a wrong label count VPT_SHAPE', async () => {
    const m = await tinyModel();
    m.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
    await expect(m.forward({ pixels: new Float32Array(3 * 32 * 32), shape: [1, 3, 64, 64] })).rejects.toMatchObject({
      code: 'VPT_SHAPE',
    });
    await expect(m.forward({ pixels: new Float32Array(10), shape: [1, 3, 32, 32] })).rejects.toMatchObject({
      code: 'VPT_SHAPE',
    });
    await expect(m.features({ pixels: images.subarray(1), shape })).rejects.toMatchObject({ code: 'VPT_SHAPE' });
    await expect(m.forward({ ...u8Batch(1), cropSize: 48 })).rejects.toMatchObject({ code: 'VPT_SHAPE' });
    const badLabels = Int32Array.from([0, 1, 7, 2]);
    const staged = await m.upload(u8Batch(2));
    for (const input of [floats, u8Batch(2), staged] as ModelInput[]) {
      await expect(m.trainStep(input, badLabels)).rejects.toMatchObject({
        code: 'VPT_OPTION',
        message: expect.stringContaining('labels[2]'),
      });
      await expect(m.evaluate(input, badLabels)).rejects.toMatchObject({
        code: 'VPT_OPTION',
        message: expect.stringContaining('labels[2]'),
      });
      await expect(m.trainStep(input, Int32Array.from([0, 1]))).rejects.toMatchObject({
        code: 'VPT_SHAPE',
        message: expect.stringContaining('2 labels for a batch of 4'),
      });
    }
    await expect(m.trainStep(images, shape, badLabels)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('labels[2]'),
    });
    await expect(m.evaluate(images, shape, badLabels)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('labels[2]'),
    });
    m.dispose();
    await expect(m.forward(floats)).rejects.toMatchObject({ code: 'VPT_DISPOSED' });
    await expect(m.trainStep(floats, labels)).rejects.toMatchObject({ code: 'VPT_DISPOSED' });
  });

  it("another model's staged batch is VPT_OPTION in every method; a disposed one VPT_DISPOSED", async () => {
    const [a, b] = await Promise.all([tinyModel(), tinyModel()]);
    a.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
    const fromB = await b.upload(u8Batch(4));
    const another = { code: 'VPT_OPTION', message: expect.stringContaining('another model') };
    await expect(a.trainStep(fromB, labels)).rejects.toMatchObject(another);
    await expect(a.evaluate(fromB, labels)).rejects.toMatchObject(another);
    await expect(a.forward(fromB)).rejects.toMatchObject(another);
    await expect(a.features(fromB)).rejects.toMatchObject(another);
    const staged = await a.upload(u8Batch(5));
    expect(staged.disposed).toBe(false);
    staged.dispose();
    expect(staged.disposed).toBe(true);
    for (const call of [
      () => a.forward(staged),
      () => a.features(staged),
      () => a.evaluate(staged, labels),
      () => a.trainStep(staged, labels),
    ]) {
      await expect(call()).rejects.toMatchObject({ code: 'VPT_DISPOSED' });
    }
    a.dispose();
    b.dispose();
  });
});
