#!/usr/bin/env node
// Prompts in the last k blocks only (prompt.reverseDeep): the frozen, prompt-free blocks below
// them compute the same output for an image every epoch. train() without augmentation caches
// that output (cacheFeatures) and steps on it with trainStepStem. This times, on one model,
// the train step from images (trainStep) against the step from cached stem features
// (trainStepStem; the cache filled beforehand, as from the second epoch on), interleaved step
// by step so a load spike on a shared machine hits both alike; best round's median per side.
//
// CPU, 224 px, random ViT weights, deep prompts in the last k of 12 blocks, SGD momentum.
// Usage (after `npm ci` and `npx tsc -p tsconfig.json`):
//   node bench/stem-cache.mjs [--shape ti|s|b] [--layers 2,6,10] [--tokens 10] [--batch 16]
//     [--steps 5] [--warmup 2] [--rounds 2] [--json out.json]
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { argValue, median, randomImages, VIT_SHAPES } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.VPT_BENCH_DIST ?? join(here, '..', 'dist'));
const { createModel, runtimeInfo } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);
const { writeRandomBackbone } = await import(pathToFileURL(join(dist, 'lib', 'demo', 'random-backbone.js')).href);

const arg = argValue;
const SHAPES = VIT_SHAPES;
const shape = SHAPES[arg('shape', 'ti')];
if (!shape) throw new Error('--shape: ti, s or b');
const LAYERS = arg('layers', '2,6,10').split(',').map(Number);
const TOKENS = Number(arg('tokens', 10));
const BATCH = Number(arg('batch', 16));
const STEPS = Number(arg('steps', 5));
const WARMUP = Number(arg('warmup', 2));
const ROUNDS = Number(arg('rounds', 2));
const JSON_OUT = arg('json', null);
const IMG = 224,
  PATCH = 16,
  CLASSES = 200;

const images = { pixels: randomImages(BATCH * 3 * IMG * IMG), shape: [BATCH, 3, IMG, IMG] };
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % CLASSES);

const dir = await mkdtemp(join(tmpdir(), 'vpt-stem-cache-'));
const rows = [];
try {
  const weights = await writeRandomBackbone(join(dir, 'vit'), { ...shape, patchSize: PATCH, imgSize: IMG, seed: 0 });
  for (const k of LAYERS) {
    const model = await createModel({
      weights,
      numClasses: CLASSES,
      prompt: { tokens: TOKENS, deep: true, deepLayers: k, reverseDeep: true },
      device: 'cpu',
    });
    model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    const stem = await model.stemFeatures(images);
    const sides = [() => model.trainStep(images, labels), () => model.trainStepStem(stem, labels)];
    let best = [Infinity, Infinity];
    for (let r = 0; r < ROUNDS; r++) {
      const times = sides.map(() => []);
      for (let i = 0; i < WARMUP + STEPS; i++) {
        for (const [s, step] of sides.entries()) {
          const t0 = performance.now();
          await step();
          if (i >= WARMUP) times[s].push(performance.now() - t0);
        }
      }
      best = best.map((b, s) => Math.min(b, median(times[s])));
    }
    const row = {
      shape: shape.name,
      promptedBlocks: k,
      stemBlocks: model.info().stemBlocks,
      imagesMs: best[0],
      stemMs: best[1],
      speedup: best[0] / best[1],
    };
    model.dispose();
    rows.push(row);
    console.log(
      `${row.shape} prompts in the last ${k} of 12 blocks (${row.stemBlocks} cached): train step ${row.imagesMs.toFixed(1)} ms from images, ${row.stemMs.toFixed(1)} ms from cached stem features: ${row.speedup.toFixed(2)}x`,
    );
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
const info = runtimeInfo();
console.log(`batch ${BATCH}, ${TOKENS} prompts, fp32, LibTorch ${info.torchVersion}, ${info.cpuThreads} threads`);
if (JSON_OUT) await writeFile(JSON_OUT, JSON.stringify({ batch: BATCH, tokens: TOKENS, rows }, null, 2));
