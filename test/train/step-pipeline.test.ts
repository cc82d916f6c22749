/**
 * The device-side train step and what builds on it, checked on the CPU:
 * - a non-finite step is skipped on the device: parameters and optimizer buffers stay bit for
 *   bit, a skipped first step creates no buffers, and AdamW's step count ignores it;
 * - staged batches (`model.upload`) train and evaluate exactly as the batch itself, and
 *   `prefetchUploads` keeps the loader's order, errors and cleanup;
 * - `cudaGraphs` falls back to eager steps with the reason, through the API, train() and the CLI.
 * (Graph capture and the pinned-memory upload stream need a GPU: scripts/gpu-check.mjs.)
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import {
  createModel,
  type ImageBatchU8,
  type Model,
  type ProgressEvent,
  readSafetensors,
  train,
} from '../../lib/index.js';
import { prefetchUploads } from '../../lib/train/prefetch-uploads.js';
import { randomFloats, TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';
import { synthDataset } from '../helpers/data.js';

const shape = [4, 3, 32, 32] as const;
const images = randomFloats(4 * 3 * 32 * 32, 11);
const labels = Int32Array.from([0, 3, 5, 6]);
const nanImages = Float32Array.from(images, (v, i) => (i === 7 ? Number.NaN : v));

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function tinyModel(seed = 3, extra: Record<string, unknown> = {}): Promise<Model> {
  return createModel({
    weights: TINY_VIT,
    numClasses: TINY_NUM_CLASSES,
    device: 'cpu',
    seed,
    prompt: { tokens: 3, deep: true },
    ...extra,
  });
}

/** Every tensor of the training state (trainable tensors and optimizer buffers). */
async function stateTensors(model: Model, name: string): Promise<Map<string, Float32Array>> {
  const path = join(tmp.dir, `${name}.safetensors`);
  await model.saveState(path);
  const { tensors } = await readSafetensors(path);
  return new Map([...tensors].map(([k, t]) => [k, t.data]));
}

function expectIdentical(a: Map<string, Float32Array>, b: Map<string, Float32Array>): void {
  expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
  for (const [k, v] of a)
    expect(
      Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(
        Buffer.from(b.get(k)!.buffer, b.get(k)!.byteOffset, b.get(k)!.byteLength),
      ),
      k,
    ).toBe(true);
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

describe('non-finite steps are skipped on the device', () => {
  for (const optimizer of ['sgd', 'adamw'] as const) {
    it(`${optimizer}: a skipped step changes nothing, and the run continues as if it never happened`, async () => {
      const [a, b] = await Promise.all([tinyModel(), tinyModel()]);
      for (const m of [a, b]) m.configureOptimizer({ optimizer, lr: 0.05, weightDecay: 0.01, clipGradNorm: 1 });
      // A skipped first step creates no optimizer buffers.
      const before = await stateTensors(a, 'before');
      const skipped = await a.trainStep(nanImages, shape, labels);
      expect(skipped.skipped).toBe(true);
      expect(Number.isNaN(skipped.loss)).toBe(true);
      const afterSkip = await stateTensors(a, 'after-skip');
      expect([...afterSkip.keys()].some((k) => k.startsWith('optim.'))).toBe(false);
      expectIdentical(before, afterSkip);
      // Two good steps, a skipped one, a good one == the three good steps alone (AdamW's bias
      // correction counts applied steps only).
      for (let i = 0; i < 2; i++)
        expect((await a.trainStep(images, shape, labels)).loss).toBe((await b.trainStep(images, shape, labels)).loss);
      const mid = await stateTensors(a, 'mid');
      expect((await a.trainStep(nanImages, shape, labels)).skipped).toBe(true);
      expectIdentical(mid, await stateTensors(a, 'mid-after-skip'));
      const ra = await a.trainStep(images, shape, labels);
      const rb = await b.trainStep(images, shape, labels);
      expect(ra.loss).toBe(rb.loss);
      expect(ra.gradNorm).toBe(rb.gradNorm);
      const sa = await stateTensors(a, 'a'),
        sb = await stateTensors(b, 'b');
      expectIdentical(sa, sb);
      a.dispose();
      b.dispose();
    });
  }

  it('the result of a step is read after its update: loss, correct count and gradient norm of the batch', async () => {
    const m = await tinyModel();
    m.configureOptimizer({ optimizer: 'sgd', lr: 0.1, clipGradNorm: 1e-3 });
    const logits = await m.forward(images, shape);
    const r = await m.trainStep(images, shape, labels);
    let correct = 0;
    for (let i = 0; i < 4; i++) {
      const row = logits.subarray(i * TINY_NUM_CLASSES, (i + 1) * TINY_NUM_CLASSES);
      if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
    }
    expect(r).toMatchObject({ skipped: false, count: 4, correct, stop: false, graphed: false });
    expect(r.gradNorm).toBeGreaterThan(1e-3); // clipping scaled the update, not the reported norm
    m.dispose();
  });
});

describe('staged batches', () => {
  it('train and evaluate exactly as the batch itself', async () => {
    const [a, b] = await Promise.all([tinyModel(5), tinyModel(5)]);
    for (const m of [a, b]) m.configureOptimizer({ optimizer: 'sgd', lr: 0.1, momentum: 0.9 });
    for (let step = 0; step < 3; step++) {
      const batch = u8Batch(step);
      const staged = await a.upload(batch);
      expect(staged.size).toBe(4);
      const ra = await a.trainStep(staged, labels);
      const rb = await b.trainStep(batch, labels);
      expect(ra.loss).toBe(rb.loss);
      expect(ra.gradNorm).toBe(rb.gradNorm);
    }
    const batch = u8Batch(9);
    const staged = await a.upload(batch);
    const ea = await a.evaluate(staged, labels, { logits: true });
    const eb = await b.evaluate(batch, labels, { logits: true });
    expect(ea.loss).toBe(eb.loss);
    expect(Buffer.from(ea.logits!.buffer).equals(Buffer.from(eb.logits!.buffer))).toBe(true);
    expectIdentical(await stateTensors(a, 'staged-a'), await stateTensors(b, 'staged-b'));
    a.dispose();
    b.dispose();
  });

  it('refuse what does not fit: a bad batch, another model, a disposed staged batch', async () => {
    const [a, b] = await Promise.all([tinyModel(), tinyModel()]);
    a.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
    await expect(a.upload({ ...u8Batch(1), cropSize: 48 })).rejects.toMatchObject({ code: 'VPT_SHAPE' });
    await expect(a.upload({ ...u8Batch(1), flips: new Uint8Array(3) })).rejects.toMatchObject({ code: 'VPT_SHAPE' });
    const fromB = await b.upload(u8Batch(1));
    await expect(a.trainStep(fromB, labels)).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('another model'),
    });
    const staged = await a.upload(u8Batch(2));
    await expect(a.trainStep(staged, Int32Array.from([0, 1]))).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringContaining('2 labels for a batch of 4'),
    });
    staged.dispose();
    await expect(a.trainStep(staged, labels)).rejects.toMatchObject({ code: 'VPT_DISPOSED' });
    a.dispose();
    b.dispose();
  });

  it('prefetchUploads: the loader order, one batch ahead; errors surface in order; an early stop closes the loader', async () => {
    const m = await tinyModel();
    let pulled = 0,
      closed = false;
    async function* source(fail: number | undefined): AsyncGenerator<{ images: ImageBatchU8; id: number }> {
      try {
        for (let i = 0; i < 4; i++) {
          if (i === fail) throw Object.assign(new Error('bad image'), { code: 'VPT_DATA' });
          pulled = i + 1;
          yield { images: u8Batch(i), id: i };
        }
      } finally {
        closed = true;
      }
    }
    const seen: number[] = [];
    for await (const b of prefetchUploads(m, source(undefined))) {
      seen.push(b.id);
      // While batch k is in hand, batch k+1 has already been pulled (and its upload started).
      expect(pulled).toBe(Math.min(b.id + 2, 4));
      expect((await b.staged).size).toBe(4);
    }
    expect(seen).toEqual([0, 1, 2, 3]);

    const got: number[] = [];
    await expect(
      (async () => {
        for await (const b of prefetchUploads(m, source(2))) got.push(b.id);
      })(),
    ).rejects.toMatchObject({ code: 'VPT_DATA' });
    expect(got).toEqual([0, 1]);

    closed = false;
    for await (const b of prefetchUploads(m, source(undefined))) if (b.id === 1) break;
    expect(closed).toBe(true);
    m.dispose();
  });
});

describe('cudaGraphs without a GPU', () => {
  it('steps run eagerly and graphStatus says why', async () => {
    const m = await tinyModel();
    m.configureOptimizer({ optimizer: 'sgd', lr: 0.1, cudaGraphs: true });
    for (let i = 0; i < 5; i++) expect((await m.trainStep(images, shape, labels)).graphed).toBe(false);
    expect(m.graphStatus()).toMatchObject({
      requested: true,
      captured: false,
      captures: 0,
      replays: 0,
      fallback: expect.stringMatching(/CUDA/),
    });
    m.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
    await m.trainStep(images, shape, labels);
    expect(m.graphStatus()).toMatchObject({ requested: false, fallback: null });
    m.dispose();
  });

  it('train() notices the fallback once and trains as without graphs', async () => {
    const data = join(tmp.dir, 'data');
    await synthDataset(data, { classes: 3, imagesPerClass: 6, imageSize: 40, seed: 4 });
    const base = {
      data,
      weights: TINY_VIT,
      device: 'cpu',
      epochs: 2,
      warmupEpochs: 0,
      batchSize: 4,
      cropSize: 32,
      workers: 1,
      seed: 7,
      deep: true,
      promptTokens: 2,
    };
    const events: ProgressEvent[] = [];
    const withGraphs = await train(
      { ...base, out: join(tmp.dir, 'run-graphs'), cudaGraphs: true },
      { onProgress: (e) => events.push(e) },
    );
    const without = await train({ ...base, out: join(tmp.dir, 'run-eager') });
    const notices = events.filter((e) => e.type === 'notice');
    expect(notices).toHaveLength(1);
    expect(notices[0]).toMatchObject({ message: expect.stringMatching(/^--cuda-graphs: step 1 ran eagerly: .*CUDA/) });
    expect(withGraphs.graphedSteps).toBe(0);
    expect(withGraphs.epochs.map((e) => e.train.loss)).toEqual(without.epochs.map((e) => e.train.loss));
    expect(withGraphs.epochs.map((e) => e.val?.top1)).toEqual(without.epochs.map((e) => e.val?.top1));
  });

  it('the CLI takes --cuda-graphs and prints the fallback notice', async () => {
    const data = join(tmp.dir, 'data'); // made by the test above
    const { stderr } = await promisify(execFile)(
      process.execPath,
      [
        join(packageRoot, 'dist', 'bin', 'launch.cjs'),
        'train',
        '--data',
        data,
        '--weights',
        TINY_VIT,
        '--out',
        join(tmp.dir, 'run-cli'),
        '--epochs',
        '1',
        '--warmup-epochs',
        '0',
        '--batch-size',
        '4',
        '--crop-size',
        '32',
        '--device',
        'cpu',
        '--workers',
        '1',
        '--cuda-graphs',
      ],
      { encoding: 'utf8' },
    );
    expect(stderr).toMatch(/vpt-native: --cuda-graphs: step 1 ran eagerly: .*CUDA/);
    expect(stderr.match(/--cuda-graphs:/g)).toHaveLength(1);
  });
});
