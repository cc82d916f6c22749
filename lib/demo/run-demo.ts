/**
 * The whole pipeline on a built-in default, no downloads: synthesize a small CUB-layout
 * dataset, convert it like real CUB, build a tiny random ViT (unless weights are given), train
 * VPT-deep on CPU, evaluate, predict a few images.
 */
import { join, resolve } from 'node:path';

import { convertCub } from '../data/convert-cub.js';
import { openDataset } from '../data/dataset.js';
import { synthesizeCub } from '../data/synth.js';
import { type EvaluationResult, evaluate } from '../train/evaluate.js';
import { type Prediction, predict } from '../train/predict.js';
import { type ProgressEvent, type TrainResult, train } from '../train/train.js';
import { DEMO_BACKBONE, writeRandomBackbone } from './random-backbone.js';

export interface DemoOptions {
  /** Folder for everything the demo writes. */
  out: string;
  /** A real backbone instead of the random tiny ViT. */
  weights?: string;
  /** Epochs, >= 1 (30); the first 2 warm up the lr, fewer when there are fewer than 3. */
  epochs?: number;
  seed?: number;
  onProgress?: (e: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface DemoResult {
  data: string;
  weights: string;
  run: string;
  train: TrainResult;
  evaluation: EvaluationResult;
  predictions: Prediction[];
}

/**
 * Runs the demo and returns what it produced.
 * @example
 * ```ts
 * const { train, evaluation } = await runDemo({ out: 'demo-out' });
 * console.log(train.bestValTop1, evaluation.top1);
 * ```
 */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const out = resolve(o.out);
  const seed = o.seed ?? 0;
  const data = join(out, 'data', 'CUB_200_2011');
  await synthesizeCub(data, { seed });
  await convertCub(data, { force: true });
  const weights = o.weights ?? (await writeRandomBackbone(join(out, 'backbone'), { ...DEMO_BACKBONE, seed }));
  const run = join(out, 'run');
  const epochs = o.epochs ?? 30;
  const result = await train(
    {
      data,
      weights,
      out: run,
      epochs,
      // At least one epoch of cosine decay after the warmup (warmupEpochs < epochs).
      warmupEpochs: Math.max(0, Math.min(2, epochs - 1)),
      batchSize: 32,
      baseLr: 2,
      weightDecay: 1e-4,
      deep: true,
      promptTokens: 10,
      cropSize: o.weights ? 224 : DEMO_BACKBONE.imgSize,
      device: 'cpu',
      seed,
    },
    // The demo folder is the demo's own: a second demo replaces the first one's run.
    {
      overwrite: true,
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    },
  );
  const evaluation = await evaluate({ run, split: 'val' });
  const val = (await openDataset(data)).splits.val ?? [];
  const picks = val.filter((_, i) => i % Math.max(1, Math.floor(val.length / 4)) === 0).slice(0, 4);
  const predictions = await predict({
    weights,
    checkpoint: result.files.best,
    images: picks.map((s) => s.path),
    topK: 3,
  });
  return { data, weights, run, train: result, evaluation, predictions };
}
