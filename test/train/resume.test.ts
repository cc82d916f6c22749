/**
 * The run folder and resuming: nothing is written before the inputs are checked, a folder that
 * holds a run is not trained over by accident, a resume keeps the saved run's settings and its
 * place (also when a batch of bad images was left out), and a state file that does not fit
 * leaves the model as it was.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { isAbsolute, join, relative } from 'node:path';

import { describe, expect, it } from 'vitest';

import { convertCub } from '../../lib/data/convert-cub.js';
import { synthesizeCub } from '../../lib/data/synth.js';
import {
  createModel,
  type EpochMetrics,
  readSafetensors,
  type TrainConfig,
  train,
  VptError,
  writeSafetensors,
} from '../../lib/index.js';
import { randomFloats, TINY_NUM_CLASSES, TINY_VIT, useSyntheticTask } from '../helpers/common.js';
import { comparable, metricsOf } from '../helpers/run-metrics.js';

const task = useSyntheticTask(
  { classes: 3, imagesPerClass: 8, imageSize: 40, seed: 5 },
  { embedDim: 32, depth: 2, numHeads: 2, patchSize: 8, imgSize: 32, seed: 2 },
);

const base = (): Omit<TrainConfig, 'out'> => ({
  data: task.data,
  weights: task.weights,
  epochs: 3,
  warmupEpochs: 1,
  batchSize: 4,
  baseLr: 1,
  deep: true,
  promptTokens: 2,
  promptDropout: 0.1,
  cropSize: 32,
  device: 'cpu',
  seed: 3,
  workers: 1,
});

/** Trains `config`, aborting right before step `at` (1-based) runs; the state is saved then. */
async function trainUntil(config: TrainConfig, at: number): Promise<void> {
  const controller = new AbortController();
  const run = train(config, {
    signal: controller.signal,
    onProgress: (e) => {
      if (e.type === 'step' && e.step === at - 1) controller.abort();
    },
  });
  await expect(run).rejects.toMatchObject({ name: 'AbortError' });
}

describe('the run folder', () => {
  it('config.json holds absolute paths, so the run works from any directory', async () => {
    const out = join(task.dir, 'run-relative');
    await train({
      ...base(),
      data: relative(process.cwd(), task.data),
      out: relative(process.cwd(), out),
      epochs: 1,
      warmupEpochs: 0,
    });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as TrainConfig;
    for (const key of ['data', 'weights', 'out'] as const) expect(isAbsolute(config[key]), key).toBe(true);
    expect(config.data).toBe(task.data);
  });

  it('a folder holding a run is refused without overwrite, and replaced with it (stale files gone)', async () => {
    const out = join(task.dir, 'run-relative');
    const before = await readFile(join(out, 'config.json'));
    await expect(train({ ...base(), out, epochs: 1, warmupEpochs: 0 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(/"out": .* holds a run already \(config\.json, metrics\.jsonl, summary\.json/),
    });
    expect((await readFile(join(out, 'config.json'))).equals(before)).toBe(true);

    const summary = join(out, 'summary.json');
    const controller = new AbortController();
    const replacing = train(
      { ...base(), out, epochs: 2, warmupEpochs: 0, seed: 9 },
      {
        overwrite: true,
        signal: controller.signal,
        onProgress: (e) => {
          if (e.type === 'step' && e.step === 2) controller.abort();
        },
      },
    );
    await expect(replacing).rejects.toMatchObject({ name: 'AbortError' });
    // The old run's summary is gone with it; the new run has not finished.
    await expect(stat(summary)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(JSON.parse(await readFile(join(out, 'config.json'), 'utf8'))).toMatchObject({ seed: 9, epochs: 2 });
  });

  it('a run that fails on its inputs writes nothing', async () => {
    const out = join(task.dir, 'run-relative');
    const before = await readFile(join(out, 'config.json'));
    await expect(
      train({ ...base(), out, data: join(task.dir, 'no-such-data') }, { overwrite: true }),
    ).rejects.toMatchObject({ code: 'VPT_DATA' });
    await expect(
      train({ ...base(), out, checkpointBlocks: true, fusedLayerNorm: true }, { overwrite: true }),
    ).rejects.toMatchObject({ code: 'VPT_OPTION' });
    expect((await readFile(join(out, 'config.json'))).equals(before)).toBe(true);
    const fresh = join(task.dir, 'run-never');
    await expect(train({ ...base(), out: fresh, data: join(task.dir, 'no-such-data') })).rejects.toMatchObject({
      code: 'VPT_DATA',
    });
    await expect(stat(fresh)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('resume', () => {
  let reference: EpochMetrics[];

  it('keeps the saved settings: unset ones come from the state, other values are refused', async () => {
    const full = join(task.dir, 'run-straight');
    await train({ ...base(), out: full });
    reference = await metricsOf(full);

    const out = join(task.dir, 'run-resumed');
    await trainUntil({ ...base(), out }, 5);
    const resume = join(out, 'last.state.safetensors');
    await expect(train({ ...base(), out, resume, epochs: 5, baseLr: 0.5 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringMatching(
        /"resume":[\s\S]*epochs: 3 in the saved run, 5 now\n {2}baseLr: 1 in the saved run, 0\.5 now/,
      ),
    });
    // Only what says where things are: every run-defining setting comes from the state file.
    await train({ data: task.data, weights: task.weights, out, resume, device: 'cpu', workers: 1 });
    expect(comparable(await metricsOf(out))).toEqual(comparable(reference));
  });

  it('the state after the last epoch has nothing left to train', async () => {
    const out = join(task.dir, 'run-straight');
    const summary = await readFile(join(out, 'summary.json'));
    await expect(train({ ...base(), out, resume: join(out, 'last.state.safetensors') })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining("after the last of the run's 3 epochs"),
    });
    expect((await readFile(join(out, 'summary.json'))).equals(summary)).toBe(true);
  });

  it('keeps its epoch when a batch of bad images was left out (onBadImage skip)', async () => {
    // One image of the training split is not a JPEG; with batch 1 its batch is left out, so
    // an epoch runs one step fewer than it has batches.
    const bad = join(task.dir, 'CUB_bad');
    await synthesizeCub(bad, { classes: 3, imagesPerClass: 4, imageSize: 40, seed: 6 });
    await convertCub(bad);
    const trainSplit = JSON.parse(await readFile(join(bad, 'train.json'), 'utf8')) as Record<string, number>;
    await writeFile(join(bad, 'images', Object.keys(trainSplit)[0]!), 'not an image');
    const config = { ...base(), data: bad, batchSize: 1, onBadImage: 'skip' as const };
    const full = join(task.dir, 'run-bad-straight');
    await train({ ...config, out: full });
    const expected = await metricsOf(full);
    expect(expected.map((m) => m.epoch)).toEqual([1, 2, 3]);

    const steps = expected[0]!.step; // steps of one epoch: one fewer than its batches
    const out = join(task.dir, 'run-bad-resumed');
    await trainUntil({ ...config, out }, steps + 2); // early in epoch 2
    await train({ ...config, out, resume: join(out, 'last.state.safetensors') });
    const resumed = await metricsOf(out);
    expect(resumed.every((m) => Number.isFinite(m.train.loss))).toBe(true);
    expect(comparable(resumed)).toEqual(comparable(expected));
  });
});

describe('loadState', () => {
  it('a state that does not fit leaves tensors, optimizer and generator as they were', async () => {
    const model = await createModel({
      weights: TINY_VIT,
      numClasses: TINY_NUM_CLASSES,
      device: 'cpu',
      seed: 1,
      prompt: { tokens: 3, deep: true, dropout: 0.1 },
    });
    model.configureOptimizer({ optimizer: 'sgd', lr: 0.1, momentum: 0.9 });
    const shape = [2, 3, 32, 32] as [number, number, number, number];
    await model.trainStep(randomFloats(2 * 3 * 32 * 32, 1), shape, Int32Array.from([0, 1]));
    const good = join(task.dir, 'good.state.safetensors');
    await model.saveState(good);

    // Another model's state, with every trainable tensor changed and one momentum buffer of the wrong shape.
    const { metadata, tensors } = await readSafetensors(good);
    const broken = [...tensors.values()].map((t) =>
      t.name.startsWith('optim.')
        ? t.name === 'optim.momentum.head.bias'
          ? { ...t, shape: [t.data.length - 1], data: t.data.subarray(1) }
          : t
        : { ...t, data: new Float32Array(t.data.length).fill(123) },
    );
    const bad = join(task.dir, 'bad.state.safetensors');
    await writeSafetensors(bad, broken, metadata);
    model.configureOptimizer({ optimizer: 'adamw', lr: 0.5 });
    await model.loadState(good);
    await expect(model.loadState(bad)).rejects.toMatchObject({
      code: 'VPT_SHAPE',
      message: expect.stringContaining('optim.momentum.head.bias'),
    });

    const after = join(task.dir, 'after.state.safetensors');
    await model.saveState(after);
    expect(model.optimizer).toMatchObject({ kind: 'sgd', lr: 0.1 });
    const a = await readSafetensors(good);
    const b = await readSafetensors(after);
    expect([...b.tensors.keys()].sort()).toEqual([...a.tensors.keys()].sort());
    for (const [name, t] of a.tensors) expect(b.tensors.get(name)!.data, name).toEqual(t.data);
    expect(b.metadata.train).toBe(a.metadata.train);
    model.dispose();
  });

  it('native errors of synchronous calls are VptErrors with a code', async () => {
    const model = await createModel({ weights: TINY_VIT, numClasses: TINY_NUM_CLASSES, device: 'cpu' });
    let caught: unknown;
    try {
      model.setRngState(new Uint8Array(3));
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(VptError);
    expect(caught).toMatchObject({ code: expect.stringMatching(/^VPT_/) });
    model.dispose();
  });
});

describe('head initialisation', () => {
  it("follows VPT's MLP head: weights N(0, 2 / out_features), hidden biases U(+-1/sqrt(D)), last bias 0", async () => {
    const numClasses = 200;
    const model = await createModel({ weights: TINY_VIT, numClasses, device: 'cpu', seed: 4, mlpLayers: 1 });
    const path = join(task.dir, 'head.safetensors');
    await model.saveTrainable(path);
    const t = (await readSafetensors(path)).tensors;
    const D = model.info().embedDim;
    const std = (x: Float32Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
    const w = t.get('head.weight')!.data;
    expect(std(w) / Math.sqrt(2 / numClasses)).toBeGreaterThan(0.95);
    expect(std(w) / Math.sqrt(2 / numClasses)).toBeLessThan(1.05);
    const hidden = t.get('head.layers.0.weight')!.data;
    expect(std(hidden) / Math.sqrt(2 / D)).toBeGreaterThan(0.9);
    expect(std(hidden) / Math.sqrt(2 / D)).toBeLessThan(1.1);
    const hb = t.get('head.layers.0.bias')!.data;
    expect(Math.max(...hb.map(Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(D));
    expect(std(hb)).toBeGreaterThan(0.4 / Math.sqrt(D)); // uniform: std = bound / sqrt(3)
    expect(t.get('head.bias')!.data.every((v) => v === 0)).toBe(true);
    model.dispose();
  });
});
