/**
 * `backboneDtype: 'bfloat16'`: the frozen backbone's weights are stored in bf16 (LayerNorm
 * weights stay fp32) and the backbone runs in bf16, while prompts and head stay fp32.
 * Checked on the tiny fixture ViT against the fp32 model.
 */
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { createModel, type Model, readSafetensorsHeader, resolveTrainConfig } from '../../lib/index.js';
import { FIXTURES, maxAbsDiff, TINY_NUM_CLASSES, TINY_VIT, tempDir, trainingBatch } from '../helpers/common.js';

/** bf16 keeps 8 mantissa bits (relative error ~4e-3 per rounding); the fixture's logits are O(1). */
const BF16_LOGIT_TOLERANCE = 0.15;

const { images, labels, shape } = await trainingBatch();
const tmp = await tempDir();
afterAll(async () => {
  await tmp.cleanup();
});

async function deepModel(extra: Record<string, unknown> = {}): Promise<Model> {
  return createModel({
    weights: TINY_VIT,
    numClasses: TINY_NUM_CLASSES,
    device: 'cpu',
    prompt: { tokens: 5, deep: true },
    trainable: join(FIXTURES, 'vpt_deep.safetensors'),
    ...extra,
  });
}

describe('bf16 backbone', () => {
  it('stays within the bf16 tolerance of the fp32 model and really runs in bf16', async () => {
    const fp32 = await deepModel();
    const bf16 = await deepModel({ backboneDtype: 'bfloat16' });
    const a = await fp32.forward(images, shape);
    const b = await bf16.forward(images, shape);
    expect(maxAbsDiff(a, b)).toBeLessThan(BF16_LOGIT_TOLERANCE);
    expect(maxAbsDiff(a, b)).toBeGreaterThan(0);
    fp32.dispose();
    bf16.dispose();
  });

  it('reports its dtype and holds half the bytes (LayerNorm weights stay fp32)', async () => {
    const fp32 = await deepModel();
    const bf16 = await deepModel({ backboneDtype: 'bfloat16' });
    const tensors = await fp32.backboneTensors();
    const numel = (t: { shape: number[] }) => t.shape.reduce((x, y) => x * y, 1);
    const isNorm = (name: string) => name.includes('norm');
    expect(fp32.info()).toMatchObject({
      backboneDtype: 'float32',
      backboneBytes: tensors.reduce((n, t) => n + 4 * numel(t), 0),
    });
    expect(bf16.info()).toMatchObject({
      backboneDtype: 'bfloat16',
      backboneBytes: tensors.reduce((n, t) => n + (isNorm(t.name) ? 4 : 2) * numel(t), 0),
    });
    expect(bf16.info().backboneBytes / fp32.info().backboneBytes).toBeLessThan(0.52);
    // The weights were rounded to bf16 once, at load.
    const rounded = (await bf16.backboneTensors()).find((t) => t.name === 'blocks.0.attn.qkv.weight')!;
    const original = tensors.find((t) => t.name === 'blocks.0.attn.qkv.weight')!;
    const bits = new Uint32Array(rounded.data.buffer, rounded.data.byteOffset, rounded.data.length);
    expect(bits.every((b) => (b & 0xffff) === 0)).toBe(true);
    expect(maxAbsDiff(rounded.data, original.data)).toBeGreaterThan(0);
    fp32.dispose();
    bf16.dispose();
  });

  for (const transfer of ['prompt', 'linear'] as const) {
    it(`trains (${transfer}): the loss falls, the backbone stays frozen, trainable tensors save as F32`, async () => {
      const model =
        transfer === 'prompt'
          ? await deepModel({ backboneDtype: 'bfloat16' })
          : await createModel({
              weights: TINY_VIT,
              numClasses: TINY_NUM_CLASSES,
              device: 'cpu',
              transfer,
              backboneDtype: 'bfloat16',
            });
      const before = await model.backboneTensors();
      model.configureOptimizer({ optimizer: 'adamw', lr: 0.02 });
      const first = (await model.trainStep(images, shape, labels)).loss;
      let last = first;
      for (let i = 0; i < 20; i++) last = (await model.trainStep(images, shape, labels)).loss;
      expect(last).toBeLessThan(first * 0.5);
      expect(model.gradientState().backboneRequiresGrad).toEqual([]);
      const after = await model.backboneTensors();
      for (const [i, t] of before.entries()) expect(maxAbsDiff(t.data, after[i]!.data), t.name).toBe(0);

      const path = join(tmp.dir, `bf16-${transfer}.safetensors`);
      await model.saveTrainable(path);
      const header = await readSafetensorsHeader(path);
      expect(header.entries.length).toBeGreaterThan(0);
      expect(new Set(header.entries.map((e) => e.dtype))).toEqual(new Set(['F32']));
      expect(JSON.parse(header.metadata.vpt!)).toMatchObject({ backboneDtype: 'bfloat16', transfer });
      model.dispose();
    });
  }

  it('a checkpoint trained on a bf16 backbone loads into an fp32 one', async () => {
    const model = await deepModel({ backboneDtype: 'bfloat16' });
    model.configureOptimizer({ optimizer: 'sgd', lr: 0.5 });
    await model.trainStep(images, shape, labels);
    const path = join(tmp.dir, 'bf16-to-fp32.safetensors');
    await model.saveTrainable(path);
    const fp32 = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cpu',
      prompt: { tokens: 5, deep: true },
      trainable: path,
    });
    expect(maxAbsDiff(await fp32.forward(images, shape), await model.forward(images, shape))).toBeLessThan(
      BF16_LOGIT_TOLERANCE,
    );
    model.dispose();
    fp32.dispose();
  });

  it('activation checkpointing recomputes in bf16 too (identical steps)', async () => {
    const results: Float32Array[] = [];
    // Recomputed blocks run unfused, so the plain run is unfused too: the two must then be bit-identical.
    for (const checkpointBlocks of [false, true]) {
      const model = await deepModel({ backboneDtype: 'bfloat16', checkpointBlocks, fusedLayerNorm: false });
      model.configureOptimizer({ optimizer: 'sgd', lr: 1, momentum: 0 });
      await model.trainStep(images, shape, labels);
      results.push(await model.forward(images, shape));
      model.dispose();
    }
    expect(maxAbsDiff(results[0]!, results[1]!)).toBe(0);
  });

  it('full fine-tuning refuses a bf16 backbone, naming the option', async () => {
    const attempt = createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cpu',
      transfer: 'full',
      backboneDtype: 'bfloat16',
    });
    await expect(attempt).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"backboneDtype"'),
    });
    await expect(
      createModel({
        weights: TINY_VIT,
        numClasses: TINY_NUM_CLASSES,
        device: 'cpu',
        backboneDtype: 'float16' as never,
      }),
    ).rejects.toMatchObject({ code: 'VPT_OPTION', message: expect.stringContaining('backboneDtype') });
  });

  it('the train config carries it, float32 by default', () => {
    const base = { data: 'd', weights: 'w', out: 'o' };
    expect(resolveTrainConfig(base).backboneDtype).toBe('float32');
    expect(resolveTrainConfig({ ...base, backboneDtype: 'bfloat16' }).backboneDtype).toBe('bfloat16');
    expect(() => resolveTrainConfig({ ...base, backboneDtype: 'bf16' })).toThrow(/backboneDtype/);
  });
});
