/**
 * `fusedLayerNorm`: each residual add, the LayerNorm after it and the deep-prompt insertion run as
 * one native op (native/kernels/add_layer_norm.h). The golden tests (parity, weights-variants, training)
 * run both paths against timm; here the kernels are checked against the same computation in ATen
 * ops case by case, and whole models with and without fusion are compared step for step.
 */
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../lib/binding.js';
import { type CreateModelOptions, createModel, type Model, readSafetensors } from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, TINY_NUM_CLASSES, TINY_VIT, tempDir, trainingBatch } from '../helpers/common.js';

/**
 * fp32: the paths differ in summation order only, ~1e-6 on the logits before training; training
 * amplifies that (measured: 1e-5 after 5 steps at lr 0.5), so steps here are few and small. A
 * wrong gradient anywhere would move a prompt by about lr x |grad|, orders above this.
 */
const FP32_TOLERANCE = 1e-4;
/**
 * bf16 autocast: a LayerNorm output can round to the neighbouring bf16 value on one path and not
 * the other, and the logits are themselves bf16 (one ulp is 2^-6 = 0.016 between 2 and 4).
 * Measured: one ulp before training, 0.03 after one step.
 */
const BF16_TOLERANCE = 0.06;

const { images, labels, shape } = await trainingBatch();
const tmp = await tempDir();
afterAll(async () => {
  await tmp.cleanup();
});
let saved = 0;

async function deepModel(extra: Partial<CreateModelOptions>): Promise<Model> {
  return createModel({
    weights: TINY_VIT,
    numClasses: TINY_NUM_CLASSES,
    device: 'cpu',
    prompt: { tokens: 5, deep: true },
    trainable: join(FIXTURES, 'vpt_deep.safetensors'),
    ...extra,
  });
}

/** Trains `steps` SGD steps; returns every trainable tensor and the logits after them. */
async function trained(
  model: Model,
  steps: number,
  lr = 0.1,
): Promise<{ tensors: Map<string, Float32Array>; logits: Float32Array }> {
  model.configureOptimizer({ optimizer: 'sgd', lr, momentum: 0.9 });
  for (let i = 0; i < steps; i++) expect((await model.trainStep(images, shape, labels)).skipped).toBe(false);
  const path = join(tmp.dir, `trained-${saved++}.safetensors`);
  await model.saveTrainable(path);
  const tensors = new Map([...(await readSafetensors(path)).tensors].map(([name, t]) => [name, t.data]));
  const logits = await model.forward(images, shape);
  model.dispose();
  return { tensors, logits };
}

async function expectSameTraining(extra: Partial<CreateModelOptions>, steps: number, tolerance: number): Promise<void> {
  const fused = await trained(await deepModel({ ...extra, fusedLayerNorm: true }), steps);
  const unfused = await trained(await deepModel({ ...extra, fusedLayerNorm: false }), steps);
  expect(fused.tensors.size).toBeGreaterThan(0);
  for (const [name, data] of fused.tensors)
    expect(maxAbsDiff(data, unfused.tensors.get(name)!), name).toBeLessThanOrEqual(tolerance);
  expect(maxAbsDiff(fused.logits, unfused.logits), 'logits').toBeLessThanOrEqual(tolerance);
}

describe('fused add + LayerNorm kernels', () => {
  it('match ATen ops in every case the kernels distinguish (CPU), outputs and gradients', () => {
    const { fused, cases } = loadAddon().addon.checkAddLayerNorm('cpu');
    expect(fused).toBe(true);
    expect(cases.length).toBeGreaterThanOrEqual(12);
    for (const c of cases) {
      expect(c.fused, `${c.name}: the kernels ran`).toBe(true);
      for (const [what, diff] of Object.entries(c.maxDiff))
        expect(diff, `${c.name}: ${what}`).toBeLessThanOrEqual(c.tolerance);
      expect(c.ok, c.name).toBe(true);
    }
    // The kernels are their own code: in fp32 they round differently from ATen somewhere.
    expect(cases.some((c) => c.maxDiff.normed > 0 && c.tolerance < 1e-3)).toBe(true);
  });

  it('the check names a device that is not there', () => {
    const { addon } = loadAddon();
    expect(() => addon.checkAddLayerNorm('tpu')).toThrow(expect.objectContaining({ code: 'VPT_DEVICE' }));
  });
});

describe('fusedLayerNorm on and off train alike', () => {
  it('is off by default and reported by info()', async () => {
    const on = await deepModel({ fusedLayerNorm: true });
    const off = await deepModel({});
    expect(on.info().fusedLayerNorm).toBe(true);
    expect(off.info().fusedLayerNorm).toBe(false);
    on.dispose();
    off.dispose();
    await expect(deepModel({ fusedLayerNorm: 'yes' as never })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('fusedLayerNorm'),
    });
    await expect(deepModel({ fusedLayerNorm: true, checkpointBlocks: true })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('checkpointBlocks'),
    });
  });

  it('VPT-deep, fp32: three SGD steps', async () => {
    await expectSameTraining({}, 3, FP32_TOLERANCE);
  });

  it('VPT-deep with prompt dropout and a projection: the same masks, the same steps', async () => {
    await expectSameTraining(
      {
        prompt: { tokens: 4, deep: true, dropout: 0.3, project: 16 },
        trainable: join(FIXTURES, 'vpt_deep_proj.safetensors'),
      },
      3,
      FP32_TOLERANCE,
    );
  });

  it('full fine-tuning: LayerNorm weights get their gradients through the fused op', async () => {
    const run = async (fusedLayerNorm: boolean) => {
      const model = await createModel({
        weights: TINY_VIT,
        numClasses: TINY_NUM_CLASSES,
        device: 'cpu',
        transfer: 'full',
        fusedLayerNorm,
      });
      const before = new Map((await model.backboneTensors()).map((t) => [t.name, t.data]));
      const { tensors } = await trained(model, 2);
      return { before, tensors };
    };
    const fused = await run(true);
    const unfused = await run(false);
    const norms = [...fused.tensors.keys()].filter((n) => /norm\d?\.(weight|bias)$/.test(n));
    expect(norms.length).toBeGreaterThan(4);
    for (const name of norms) {
      expect(maxAbsDiff(fused.tensors.get(name)!, fused.before.get(name)!), `${name} moved`).toBeGreaterThan(0);
      expect(maxAbsDiff(fused.tensors.get(name)!, unfused.tensors.get(name)!), name).toBeLessThanOrEqual(
        FP32_TOLERANCE,
      );
    }
  });

  it('bf16 autocast and a bf16 backbone: within bf16 rounding of the unfused path', async () => {
    await expectSameTraining({ precision: 'bf16' }, 1, BF16_TOLERANCE);
    await expectSameTraining({ backboneDtype: 'bfloat16' }, 1, BF16_TOLERANCE);
  });
});
