/**
 * The stacked group step (trainStepGrouped): models sharing one backbone step together in one
 * native call, and each model's step equals its own trainStep on the batch: the same losses,
 * accuracies and gradient norms, and the same updated parameters, within 1e-5 (fp32; the
 * stacked forward batches the models' matmuls). Models that cannot step together are refused
 * with the reason.
 */
import { afterAll, describe, expect, it } from 'vitest';

import {
  type CreateModelOptions,
  createModel,
  createModelSharingBackbone,
  groupedStepUnsupported,
  Model,
  type TrainStepResult,
  trainStepGrouped,
  VptError,
} from '../../lib/index.js';
import type { OptimizerOptions } from '../../lib/train/optimizer-options.js';
import { maxAbsDiff, TINY_NUM_CLASSES, TINY_VIT, trainingBatch } from '../helpers/common.js';

/** fp32: the stacked forward runs the models' rows in one batched matmul instead of one each. */
const TOL = 1e-5;

const { images, labels, shape } = await trainingBatch();
const batch = { pixels: images, shape };
const base: CreateModelOptions = { weights: TINY_VIT, numClasses: TINY_NUM_CLASSES, device: 'cpu' };
const made: Model[] = [];
const keep = (m: Model) => {
  made.push(m);
  return m;
};
afterAll(() => {
  for (const m of made) m.dispose();
});

interface Trial {
  model: Partial<CreateModelOptions>;
  optimizer: OptimizerOptions;
  classWeights?: Float32Array;
  /** The learning rate of each step (a schedule). */
  lrs?: number[];
}

/** The trials' models, sharing the first one's backbone, configured. */
async function group(trials: Trial[]): Promise<Model[]> {
  const models: Model[] = [];
  for (const t of trials) {
    const options = { ...base, ...t.model } as CreateModelOptions;
    const m = keep(models.length ? await createModelSharingBackbone(options, models[0]!) : await createModel(options));
    if (t.classWeights) m.setClassWeights(t.classWeights);
    m.configureOptimizer(t.optimizer);
    models.push(m);
  }
  return models;
}

const trainables = async (m: Model) => Model.nativeOf(m).exportTrainable();

/**
 * Steps `trials` `steps` times stacked and, on a second group, one after another; compares the
 * losses to `tol`, the gradient norms to `tol` relative, and the parameters to `tol`.
 */
async function compare(trials: Trial[], steps: number, tol = TOL): Promise<void> {
  const stacked = await group(trials);
  const alone = await group(trials);
  expect(groupedStepUnsupported(stacked)).toBeNull();
  for (let s = 0; s < steps; s++) {
    for (const [i, t] of trials.entries()) {
      const lr = t.lrs?.[s];
      if (lr !== undefined) {
        stacked[i]!.setLearningRate(lr);
        alone[i]!.setLearningRate(lr);
      }
    }
    const got = await trainStepGrouped(stacked, batch, labels);
    for (const [i, m] of alone.entries()) {
      const want = await m.trainStep(batch, labels);
      const r = got[i] as TrainStepResult;
      expect(r, `step ${s}, model ${i}`).not.toBeInstanceOf(Error);
      expect(Math.abs(r.loss - want.loss), `loss, step ${s}, model ${i}`).toBeLessThanOrEqual(tol);
      expect(Math.abs(r.gradNorm - want.gradNorm), `grad norm, step ${s}, model ${i}`).toBeLessThanOrEqual(
        tol * Math.max(1, want.gradNorm),
      );
      expect(r.correct).toBe(want.correct);
      expect(r.skipped).toBe(want.skipped);
    }
  }
  for (const [i, m] of alone.entries()) {
    const want = await trainables(m);
    const got = await trainables(stacked[i]!);
    expect(got.map((t) => t.name)).toEqual(want.map((t) => t.name));
    for (const [k, t] of want.entries())
      expect(maxAbsDiff(got[k]!.data, t.data), `model ${i}: ${t.name}`).toBeLessThanOrEqual(tol);
  }
  // They trained: the parameters moved from their initial values.
  const fresh = await group(trials.slice(0, 1));
  expect(
    maxAbsDiff((await trainables(fresh[0]!)).at(-1)!.data, (await trainables(stacked[0]!)).at(-1)!.data),
  ).toBeGreaterThan(1e-4);
}

const weights = Float32Array.from({ length: TINY_NUM_CLASSES }, (_, c) => 0.5 + c / TINY_NUM_CLASSES);

describe('trainStepGrouped', () => {
  it('VPT-deep: each model steps as it does alone (its lr schedule, wd, momentum, AdamW, class weights)', async () => {
    const prompt = { tokens: 3, deep: true };
    await compare(
      [
        {
          model: { prompt, seed: 1 },
          optimizer: { optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 1e-3 },
          lrs: [0.1, 0.3, 0.5],
        },
        {
          model: { prompt, seed: 2 },
          optimizer: { optimizer: 'sgd', lr: 2, momentum: 0.9, weightDecay: 0 },
          classWeights: weights,
        },
        { model: { prompt, seed: 3 }, optimizer: { optimizer: 'adamw', lr: 1e-2, weightDecay: 1e-2 } },
      ],
      3,
    );
  });

  it('VPT-shallow with prompt dropout and a projection: each draws its own dropout as alone', async () => {
    const prompt = { tokens: 4, deep: false, dropout: 0.1, project: 16 };
    await compare(
      [
        {
          model: { prompt, seed: 4 },
          optimizer: { optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 1e-3 },
        },
        {
          model: { prompt, seed: 5 },
          optimizer: { optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4 },
        },
      ],
      2,
    );
  });

  it('an MLP head (BatchNorm, dropout): to 1e-4, its BatchNorm over 4 samples amplifies float rounding', async () => {
    const prompt = { tokens: 3, deep: true };
    const sgd = { optimizer: 'sgd', momentum: 0.9, weightDecay: 1e-3 } as const;
    await compare(
      [
        { model: { prompt, seed: 4, mlpLayers: 1 }, optimizer: { ...sgd, lr: 0.01 } },
        { model: { prompt, seed: 5, mlpLayers: 1 }, optimizer: { ...sgd, lr: 0.02 } },
      ],
      1,
      1e-4,
    );
  });

  it('VPT-deep with prompt dropout (per-sample key / value rows)', async () => {
    const prompt = { tokens: 2, deep: true, dropout: 0.2 };
    await compare(
      [
        { model: { prompt, seed: 6 }, optimizer: { optimizer: 'sgd', lr: 1, momentum: 0.9, weightDecay: 0 } },
        { model: { prompt, seed: 7 }, optimizer: { optimizer: 'sgd', lr: 0.2, momentum: 0.9, weightDecay: 1e-3 } },
      ],
      2,
    );
  });

  it('linear probing: one backbone pass for every head', async () => {
    await compare(
      [
        {
          model: { transfer: 'linear', seed: 8 },
          optimizer: { optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 1e-3 },
        },
        {
          model: { transfer: 'linear', seed: 9 },
          optimizer: { optimizer: 'sgd', lr: 0.05, momentum: 0.9, weightDecay: 0 },
        },
        { model: { transfer: 'linear', seed: 10 }, optimizer: { optimizer: 'adamw', lr: 1e-3, weightDecay: 0.01 } },
      ],
      2,
    );
  });

  it("returns a diverged model's VPT_NONFINITE error in its place; the others' steps stand", async () => {
    const prompt = { tokens: 2, deep: true };
    const trials: Trial[] = [
      { model: { prompt, seed: 1 }, optimizer: { optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 0 } },
      {
        model: { prompt, seed: 2 },
        optimizer: { optimizer: 'sgd', lr: 1e30, momentum: 0.9, weightDecay: 0, maxNonFinite: 1 },
      },
    ];
    const models = await group(trials);
    const results: (TrainStepResult | VptError)[][] = [];
    for (let s = 0; s < 3; s++) results.push(await trainStepGrouped(models, batch, labels));
    const diverged = results.map((r) => r[1]).find((r) => r instanceof VptError);
    expect(diverged).toBeInstanceOf(VptError);
    expect((diverged as VptError).code).toBe('VPT_NONFINITE');
    expect(results.every((r) => !(r[0] instanceof Error) && Number.isFinite((r[0] as TrainStepResult).loss))).toBe(
      true,
    );
  });
});

describe('models that cannot step together', () => {
  const prompt = { tokens: 2, deep: true };
  const sgd: OptimizerOptions = { optimizer: 'sgd', lr: 0.1 };
  async function pair(a: Partial<CreateModelOptions>, b: Partial<CreateModelOptions>, share = true) {
    const first = keep(await createModel({ ...base, ...a } as CreateModelOptions));
    const options = { ...base, ...b } as CreateModelOptions;
    const second = keep(share ? await createModelSharingBackbone(options, first) : await createModel(options));
    first.configureOptimizer(sgd);
    second.configureOptimizer(sgd);
    return [first, second];
  }

  it.each([
    [
      'another prompt shape',
      { prompt },
      { prompt: { tokens: 3, deep: true } },
      true,
      /another prompt tokens \(2 vs 3\)/,
    ],
    ['shallow and deep', { prompt }, { prompt: { tokens: 2, deep: false } }, true, /another deep prompts/],
    ['an own backbone copy', { prompt }, { prompt }, false, /its backbone is not model 0's/],
    ['full fine-tuning', { transfer: 'full' }, { transfer: 'full' }, false, /stacked steps are for prompt and linear/],
    ['bf16', { prompt, precision: 'bf16' }, { prompt, precision: 'bf16' }, true, /bf16/],
    ['fused LayerNorm', { prompt, fusedLayerNorm: true }, { prompt, fusedLayerNorm: true }, true, /fused LayerNorm/],
  ] as const)('refuses %s, saying why', async (_name, a, b, share, why) => {
    const models = await pair(a, b, share);
    expect(groupedStepUnsupported(models)).toMatch(why);
    await expect(trainStepGrouped(models, batch, labels)).rejects.toThrow(why);
  });

  it('refuses a model twice and a model without an optimizer', async () => {
    const [a, b] = await pair({ prompt }, { prompt });
    expect(groupedStepUnsupported([a!, a!])).toMatch(/already in the group/);
    const c = keep(await createModelSharingBackbone({ ...base, prompt } as CreateModelOptions, a!));
    await expect(trainStepGrouped([a!, b!, c], batch, labels)).rejects.toThrow(/configureOptimizer/);
  });
});
