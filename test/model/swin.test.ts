/**
 * The Swin backbone and VPT's prompted Swin against the references of
 * test/fixtures/generate_prompted_swin.py: timm's SwinTransformer for the plain features and
 * logits, KMnP/vpt's PromptedSwinTransformer (one image at a time, see the generator) for the
 * shallow and deep prompted logits (1e-4) and one SGD step of prompts + head (1e-5). Options
 * only the ViT implements are refused by name.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  type CreateModelOptions,
  convertCub,
  createModel,
  type HostTensor,
  MultiTaskModel,
  readSafetensors,
  synthesizeCub,
  type TrainConfig,
  train,
  VptError,
} from '../../lib/index.js';
import { resolveSwinArchitecture } from '../../lib/weights/swin-archs.js';
import { FIXTURES, maxAbsDiff, tempDir } from '../helpers/common.js';

const LOGITS_TOLERANCE = 1e-4;
const ONE_STEP_TOLERANCE = 1e-5;
const DIR = join(FIXTURES, 'swin');
const WEIGHTS = join(DIR, 'backbone');
const NUM_CLASSES = 5;
const TOKENS = 3;
const shape = [2, 3, 32, 32] as const;

let g: Map<string, HostTensor>;
let images: Float32Array;
let labels: Int32Array;
let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  g = (await readSafetensors(join(DIR, 'golden.safetensors'))).tensors;
  images = g.get('images')!.data;
  labels = Int32Array.from(g.get('labels')!.data);
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const base = { weights: WEIGHTS, device: 'cpu' } as const;

describe('Swin backbone matches timm', () => {
  it("features (final norm + average pool) and logits with timm's head", async () => {
    const m = await createModel({
      ...base,
      numClasses: 10,
      transfer: 'linear',
      trainable: join(DIR, 'linear.safetensors'),
    });
    try {
      expect(maxAbsDiff(await m.features(images, shape), g.get('plain.features')!.data)).toBeLessThanOrEqual(
        LOGITS_TOLERANCE,
      );
      expect(maxAbsDiff(await m.forward(images, shape), g.get('plain.logits')!.data)).toBeLessThanOrEqual(
        LOGITS_TOLERANCE,
      );
      expect(m.info().arch).toBe('swin_tiny_patch4_window7_224');
    } finally {
      m.dispose();
    }
  });
});

describe('prompted Swin matches KMnP/vpt', () => {
  for (const c of ['shallow', 'deep'] as const) {
    it(`${c}: logits, one SGD step of prompts + head, saved state`, async () => {
      const m = await createModel({
        ...base,
        numClasses: NUM_CLASSES,
        prompt: { tokens: TOKENS, deep: c === 'deep' },
        trainable: join(DIR, `${c}.safetensors`),
      });
      try {
        const logits = await m.forward(images, shape);
        expect(maxAbsDiff(logits, g.get(`${c}.logits`)!.data)).toBeLessThanOrEqual(LOGITS_TOLERANCE);
        // One image alone gives its row of the batch: each image has its own prompts.
        const one = await m.forward(images.slice(0, 3 * 32 * 32), [1, 3, 32, 32]);
        expect(maxAbsDiff(one, logits.slice(0, NUM_CLASSES))).toBeLessThanOrEqual(1e-5);
        m.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
        await m.trainStep(images, shape, labels);
        const file = join(tmp.dir, `${c}.safetensors`);
        await m.saveTrainable(file);
        const { tensors } = await readSafetensors(file);
        const expected = [...g.keys()]
          .filter((k) => k.startsWith(`sgd1.${c}.`))
          .map((k) => k.slice(`sgd1.${c}.`.length));
        expect([...tensors.keys()].sort()).toEqual(expected.sort());
        for (const [name, t] of tensors) {
          expect(maxAbsDiff(t.data, g.get(`sgd1.${c}.${name}`)!.data), name).toBeLessThanOrEqual(ONE_STEP_TOLERANCE);
        }
        // The saved state loads back into a fresh model and gives the same logits.
        const again = await createModel({
          ...base,
          numClasses: NUM_CLASSES,
          prompt: { tokens: TOKENS, deep: c === 'deep' },
          trainable: file,
        });
        try {
          expect(maxAbsDiff(await again.forward(images, shape), await m.forward(images, shape))).toBe(0);
        } finally {
          again.dispose();
        }
      } finally {
        m.dispose();
      }
    });
  }

  it('trainable tensors: shallow prompts, per-stage deep sets (stage 0 one fewer), head', async () => {
    const m = await createModel({ ...base, numClasses: NUM_CLASSES, prompt: { tokens: TOKENS, deep: true } });
    try {
      // widths 8, 16, 32, 64; depths 2, 2, 1, 1; head 64 -> 5.
      const prompts = TOKENS * (8 + 1 * 8 + 2 * 16 + 1 * 32 + 1 * 64);
      expect(m.info().trainableParams).toBe(prompts + 64 * NUM_CLASSES + NUM_CLASSES);
    } finally {
      m.dispose();
    }
  });

  it('full fine-tuning trains the backbone too', async () => {
    const m = await createModel({ ...base, numClasses: NUM_CLASSES, transfer: 'full' });
    try {
      expect(m.info().trainableParams).toBe(m.info().totalParams);
      m.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0 });
      const before = (await m.backboneTensors()).find((t) => t.name === 'norm.weight')!.data.slice();
      const r = await m.trainStep(images, shape, labels);
      expect(Number.isFinite(r.loss)).toBe(true);
      const after = (await m.backboneTensors()).find((t) => t.name === 'norm.weight')!.data;
      expect(maxAbsDiff(before, after)).toBeGreaterThan(0);
    } finally {
      m.dispose();
    }
  });
});

describe('Swin refusals', () => {
  const prompted = { ...base, numClasses: NUM_CLASSES, prompt: { tokens: TOKENS } } as const;
  const cases: Array<[string, Partial<CreateModelOptions>, RegExp]> = [
    ['skipDiscardedPromptRows', { skipDiscardedPromptRows: true }, /"skipDiscardedPromptRows".*Swin/],
    ['checkpointBlocks', { checkpointBlocks: true }, /"checkpointBlocks".*Swin/],
    ['fusedLayerNorm', { fusedLayerNorm: true }, /"fusedLayerNorm".*Swin/],
    ['bf16', { precision: 'bf16' }, /"precision".*Swin/],
    ['a bf16 backbone', { backboneDtype: 'bfloat16' }, /"backboneDtype".*Swin/],
    ['deep variants', { prompt: { tokens: 3, deep: true, deepLayers: 1 } }, /"prompt\.deepLayers".*Swin/],
    ['pool types', { prompt: { tokens: 3, pool: 'img_pool' } }, /"prompt\.pool".*Swin/],
    ['added prompts', { prompt: { tokens: 3, location: 'add' } }, /"prompt\.location".*Swin/],
    ['projected prompts', { prompt: { tokens: 3, project: 4 } }, /"prompt\.project".*Swin/],
  ];
  for (const [name, extra, message] of cases) {
    it(`refuses ${name}`, async () => {
      const error = await createModel({ ...prompted, ...extra }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as VptError).code).toBe('VPT_OPTION');
      expect((error as Error).message).toMatch(message);
    });
  }

  it('ViT-only native calls are refused by name', async () => {
    const m = await createModel(prompted);
    try {
      const error = await m.clsLayerwise({ pixels: images, shape: [...shape] }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(VptError);
      expect((error as VptError).code).toBe('VPT_OPTION');
      expect((error as Error).message).toMatch(/CLS embeddings .*not supported by the Swin model/);
      expect(() => m.configureOptimizer({ optimizer: 'sgd', lr: 0.1, cudaGraphs: true })).toThrow(/cudaGraphs/);
    } finally {
      m.dispose();
    }
  });

  it('the multi-task forward refuses a Swin backbone by name', async () => {
    const error = await MultiTaskModel.create({ weights: WEIGHTS, device: 'cpu' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as Error).message).toMatch(/ViT backbones only, not Swin/);
  });

  it('a trainable state of the other depth of prompts is refused', async () => {
    const error = await createModel({ ...prompted, trainable: join(DIR, 'deep.safetensors') }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as Error).message).toMatch(/prompt\.deep/);
  });

  it('an image size whose maps the window does not tile is refused', async () => {
    const error = await createModel({ ...prompted, imageSize: 40 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(VptError);
    expect((error as Error).message).toMatch(/window 4/);
  });
});

describe('train() with a Swin backbone', () => {
  let data: string;
  beforeAll(async () => {
    data = join(tmp.dir, 'CUB_200_2011');
    await synthesizeCub(data, { classes: 3, imagesPerClass: 8, imageSize: 40, seed: 5 });
    await convertCub(data);
  });
  const config = (out: string): TrainConfig => ({
    data,
    weights: WEIGHTS,
    out,
    epochs: 1,
    warmupEpochs: 0,
    batchSize: 4,
    cropSize: 32,
    device: 'cpu',
    seed: 3,
    workers: 1,
  });

  it('deep prompts: trains, and its best state loads into createModel', async () => {
    const out = join(tmp.dir, 'run-deep');
    const result = await train({ ...config(out), deep: true, promptTokens: 2 });
    expect(Number.isFinite(result.epochs[0]!.train.loss)).toBe(true);
    const m = await createModel({
      ...base,
      numClasses: 3,
      prompt: { tokens: 2, deep: true },
      trainable: result.files.best,
    });
    try {
      expect(m.info().transfer).toBe('prompt');
    } finally {
      m.dispose();
    }
  });

  it('linear probing on cached features', async () => {
    const result = await train({
      ...config(join(tmp.dir, 'run-linear')),
      transfer: 'linear',
      augment: false,
      epochs: 3,
    });
    // Samples dropped by dropLast in epoch 1 are computed later; cached steps follow.
    expect(result.cachedFeatureSteps).toBeGreaterThan(0);
  });
});

describe('Swin architecture names', () => {
  it("resolves timm's registrations and tags", () => {
    const a = resolveSwinArchitecture({ arch: 'swin_base_patch4_window7_224.ms_in22k' });
    expect(a).toMatchObject({
      embedDim: 128,
      depths: [2, 2, 18, 2],
      numHeads: [4, 8, 16, 32],
      windowSize: 7,
      tag: 'ms_in22k',
    });
    expect(resolveSwinArchitecture({ arch: 'swin_base_patch4_window7_224_in22k' }).tag).toBe('ms_in22k');
  });
  it('refuses Swin V2 and unknown model_args by name', () => {
    expect(() => resolveSwinArchitecture({ arch: 'swinv2_tiny_window8_256' })).toThrow(
      /not supported.*swin_base_patch4/,
    );
    expect(() =>
      resolveSwinArchitecture({ arch: 'swin_tiny_patch4_window7_224', config: { model_args: { ape: true } } }),
    ).toThrow(/model_args\.ape/);
  });
});
