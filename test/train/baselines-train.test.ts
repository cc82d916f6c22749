/**
 * train() with VPT's Table 1 baselines (partial-k, bias, adapter, the MLP head): the run's
 * states hold the mode's trainable set, a run stopped part-way resumes to the same result as an
 * uninterrupted one (the MLP head's BatchNorm statistics and dropout generator included), and a
 * resume with another mode is refused.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluate, readSafetensors, type TrainConfig, train } from '../../lib/index.js';
import { syntheticTask, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let weights: string;

beforeAll(async () => {
  tmp = await tempDir();
  ({ data, weights } = await syntheticTask(
    tmp.dir,
    { classes: 3, imagesPerClass: 4, imageSize: 40, seed: 5 },
    { embedDim: 16, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
  ));
});
afterAll(async () => {
  await tmp.cleanup();
});

const base = (): Omit<TrainConfig, 'out'> => ({
  data,
  weights,
  epochs: 2,
  warmupEpochs: 0,
  batchSize: 4,
  baseLr: 1,
  cropSize: 32,
  device: 'cpu',
  seed: 3,
  workers: 1,
});

describe('train() with the baselines', () => {
  it('partial-1 with an MLP head: the state holds the last block, the final norm and the head with its statistics', async () => {
    const out = join(tmp.dir, 'partial');
    const result = await train({ ...base(), out, transfer: 'partial-1', mlpLayers: 1 });
    // evaluate() rebuilds the model from the state's metadata (mode, head) and gets the run's best val top-1.
    expect((await evaluate({ run: out, split: 'val' })).top1).toBe(result.bestValTop1);
    const { tensors, metadata } = await readSafetensors(join(out, 'best.safetensors'));
    const names = [...tensors.keys()];
    expect(names.filter((n) => n.startsWith('blocks.0.'))).toEqual([]);
    expect(names.filter((n) => n.startsWith('blocks.1.')).length).toBe(12);
    expect(names).toEqual(expect.arrayContaining(['norm.weight', 'head.layers.0.norm.running_var']));
    expect(JSON.parse(metadata.vpt!)).toMatchObject({ transfer: 'partial-1', headHiddenLayers: 1 });
  });

  it('adapter with an MLP head (dropout on): stopped after 3 steps and resumed equals an uninterrupted run', async () => {
    const config = { ...base(), transfer: 'adapter' as const, adapterReduction: 4, mlpLayers: 1 };
    const whole = join(tmp.dir, 'adapter-whole');
    await train({ ...config, out: whole });
    const part = join(tmp.dir, 'adapter-part');
    const controller = new AbortController();
    let steps = 0;
    await expect(
      train(
        { ...config, out: part },
        {
          signal: controller.signal,
          onProgress: (e) => {
            if (e.type === 'step' && ++steps === 3) controller.abort();
          },
        },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const state = join(part, 'last.state.safetensors');
    await expect(train({ ...config, out: part, transfer: 'bias', resume: state })).rejects.toThrow(/transfer/);
    await train({ ...config, out: part, resume: state });
    const a = (await readSafetensors(join(whole, 'last.state.safetensors'))).tensors;
    const b = (await readSafetensors(join(part, 'last.state.safetensors'))).tensors;
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect([...a.keys()].filter((n) => n.startsWith('blocks.') && n.includes('.adapter.')).length).toBe(8);
    for (const [name, t] of a) expect(Array.from(b.get(name)!.data), name).toEqual(Array.from(t.data));
  });
});
