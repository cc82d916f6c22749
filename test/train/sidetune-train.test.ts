/**
 * train() with the side-tuning baseline: the run's states hold the side network, its projection,
 * alpha and the head; evaluate() rebuilds the model from the state alone (no AlexNet file); a
 * run stopped part-way resumes to the same result as an uninterrupted one.
 */
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { evaluate, readSafetensors, type TrainConfig, train, writeSafetensors } from '../../lib/index.js';
import { maxAbsDiff, syntheticTask, tempDir } from '../helpers/common.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: string;
let weights: string;
let alexnet: string;

/** torchvision AlexNet's feature convolutions (out, in, kernel), at their state-dict indices. */
const CONVS: Array<[number, number, number, number]> = [
  [0, 64, 3, 11],
  [3, 192, 64, 5],
  [6, 384, 192, 3],
  [8, 256, 384, 3],
  [10, 256, 256, 3],
];

beforeAll(async () => {
  tmp = await tempDir();
  ({ data, weights } = await syntheticTask(
    tmp.dir,
    { classes: 3, imagesPerClass: 4, imageSize: 72, seed: 5 },
    { embedDim: 16, depth: 2, numHeads: 2, patchSize: 16, imgSize: 64, seed: 2 },
  ));
  alexnet = join(tmp.dir, 'alexnet.safetensors');
  await writeSafetensors(
    alexnet,
    CONVS.flatMap(([i, out, inC, k]) => {
      const n = out * inC * k * k;
      const scale = Math.sqrt(6 / (inC * k * k));
      const weight = Float32Array.from({ length: n }, (_, j) => scale * Math.sin(0.7 * j + i));
      const bias = Float32Array.from({ length: out }, (_, j) => 0.05 * Math.cos(j + i));
      return [
        { name: `features.${i}.weight`, shape: [out, inC, k, k], data: weight },
        { name: `features.${i}.bias`, shape: [out], data: bias },
      ];
    }),
  );
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
  baseLr: 0.5,
  cropSize: 64,
  device: 'cpu',
  seed: 3,
  workers: 1,
  transfer: 'sidetune',
  sideWeights: alexnet,
});

describe('train() with sidetune', () => {
  it('stopped after 3 steps and resumed equals an uninterrupted run; evaluate() needs no AlexNet file', async () => {
    const whole = join(tmp.dir, 'whole');
    const result = await train({ ...base(), out: whole });
    expect((await evaluate({ run: whole, split: 'val' })).top1).toBe(result.bestValTop1);
    const part = join(tmp.dir, 'part');
    const controller = new AbortController();
    let steps = 0;
    await expect(
      train(
        { ...base(), out: part },
        {
          signal: controller.signal,
          onProgress: (e) => {
            if (e.type === 'step' && ++steps === 3) controller.abort();
          },
        },
      ),
    ).rejects.toMatchObject({ name: 'AbortError' });
    const state = join(part, 'last.state.safetensors');
    await expect(train({ ...base(), out: part, transfer: 'adapter', resume: state })).rejects.toThrow(/transfer/);
    await train({ ...base(), out: part, resume: state });
    const { tensors: a, metadata } = await readSafetensors(join(whole, 'last.state.safetensors'));
    const b = (await readSafetensors(join(part, 'last.state.safetensors'))).tensors;
    expect(JSON.parse(metadata.vpt!)).toMatchObject({ transfer: 'sidetune' });
    expect([...a.keys()].filter((n) => n.startsWith('side')).sort()).toEqual(
      [
        ...CONVS.flatMap(([i]) => [`side.features.${i}.weight`, `side.features.${i}.bias`]),
        'side_alpha',
        'side_projection.weight',
      ].sort(),
    );
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    // Everything trains: alpha moved off 0 and the first convolution off the AlexNet file.
    expect(a.get('side_alpha')!.data[0]).not.toBe(0);
    const first = (await readSafetensors(alexnet)).tensors.get('features.0.weight')!.data;
    expect(a.get('side.features.0.weight')!.data.some((v, i) => v !== first[i])).toBe(true);
    for (const [name, t] of a) expect(maxAbsDiff(b.get(name)!.data, t.data), name).toBe(0);
  });
});
