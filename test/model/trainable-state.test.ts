import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createModel, readSafetensors } from '../../lib/index.js';
import { golden, randomFloats, TINY_NUM_CLASSES, TINY_VIT, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

const shape = [2, 3, 32, 32] as const;

describe('trainable state', () => {
  it('round-trips: save, load into a fresh model with another seed, identical logits', async () => {
    const images = (await golden()).get('images')!.data;
    const prompt = { tokens: 3, deep: true, project: 8 };
    const a = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      prompt,
      seed: 11,
      mlpLayers: 1,
      device: 'cpu',
      classNames: ['a', 'b', 'c', 'd', 'e', 'f', 'g'],
    });
    const b = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      prompt,
      seed: 12,
      mlpLayers: 1,
      device: 'cpu',
    });
    const la = await a.forward(images, shape);
    expect(Array.from(await b.forward(images, shape))).not.toEqual(Array.from(la));

    const path = join(tmp.dir, 'state.safetensors');
    await a.saveTrainable(path);
    await b.loadTrainable(path);
    expect(Array.from(await b.forward(images, shape))).toEqual(Array.from(la));
    expect(b.info().classNames).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);

    const { tensors, metadata } = await readSafetensors(path);
    expect([...tensors.keys()].sort()).toEqual([
      'deep_prompt_embeddings',
      'head.bias',
      'head.layers.0.bias',
      'head.layers.0.norm.bias',
      'head.layers.0.norm.running_mean',
      'head.layers.0.norm.running_var',
      'head.layers.0.norm.weight',
      'head.layers.0.weight',
      'head.weight',
      'prompt_embeddings',
      'prompt_proj.bias',
      'prompt_proj.weight',
    ]);
    expect(tensors.get('deep_prompt_embeddings')!.shape).toEqual([2, 3, 8]);
    const meta = JSON.parse(metadata.vpt!);
    expect(meta).toMatchObject({
      format: 'vpt-native.trainable',
      arch: 'vit_tiny_patch16_224.vpt_native_fixture',
      numClasses: 7,
      prompt: { tokens: 3, deep: true, project: 8 },
    });
    a.dispose();
    b.dispose();
  });

  it('same seed gives identical initial prompts and head', async () => {
    const images = randomFloats(2 * 3 * 32 * 32, 5);
    const a = await createModel({ weights: TINY_VIT, numClasses: 3, seed: 42, device: 'cpu' });
    const b = await createModel({ weights: TINY_VIT, numClasses: 3, seed: 42, device: 'cpu' });
    expect(Array.from(await a.forward(images, shape))).toEqual(Array.from(await b.forward(images, shape)));
    a.dispose();
    b.dispose();
  });

  it('reports parameter counts for each transfer mode', async () => {
    const D = 64,
      L = 3,
      C = 7;
    const prompt = await createModel({
      weights: TINY_VIT,
      numClasses: C,
      prompt: { tokens: 5, deep: true },
      device: 'cpu',
    });
    const linear = await createModel({ weights: TINY_VIT, numClasses: C, transfer: 'linear', device: 'cpu' });
    const full = await createModel({ weights: TINY_VIT, numClasses: C, transfer: 'full', device: 'cpu' });
    const head = D * C + C;
    expect(prompt.info().trainableParams).toBe(5 * D * L + head);
    expect(linear.info().trainableParams).toBe(head);
    expect(full.info().trainableParams).toBe(full.info().totalParams);
    expect(prompt.info()).toMatchObject({
      arch: 'vit_tiny_patch16_224',
      embedDim: 64,
      depth: 3,
      heads: 4,
      patchSize: 8,
      imageSize: 32,
      device: 'cpu',
    });
    for (const m of [prompt, linear, full]) m.dispose();
  });
});
