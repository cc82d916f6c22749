#!/usr/bin/env node
// VPT-deep's cost as the prompts grow: train and eval step ms at several prompt lengths, for
// vpt-native with skipDiscardedPromptRows on (the default: prompt rows get keys and values
// only) and off (every row of every block but the last), against PyTorch eager
// (bench/torch_train_step.py, every row of every block) on the same torch version, in one run.
// Also the FLOPs of a train step counted for the rows each side actually computes
// (bench/flops.mjs computedTrainStepFlops).
//
// CPU, 224 px, deep prompts, SGD momentum, normalized float batches (as bench/train-step.mjs).
// Our two settings run step by step interleaved (on, off, then off, on: the order swaps every
// round) and PyTorch runs after them, for --rounds rounds; each side reports its best round's
// median of --steps timed steps (after --warmup), so a noisy neighbour on a shared machine does
// not decide a ratio. "paired" is the median (and quartiles) of off / on within each round,
// over every timed round: the measure to read when the two differ by a few percent.
//
// Usage (after `npm ci` and `npx tsc -p tsconfig.json`):
//   VPT_BENCH_PYTHONPATH=.deps/torch-cpu node bench/prompt-scaling.mjs
//     [--tokens 1,10,50,100,200] [--shapes ti,s] [--precisions fp32,bf16] [--batch 16]
//     [--steps 5] [--warmup 2] [--rounds 2] [--no-torch] [--json out.json] [--clock wall|cpu]
// --clock cpu times our steps in process CPU time (user + system, every thread) instead of wall
// time: on a loaded machine, time spent preempted then does not count. Meant with
// OMP_NUM_THREADS=1, where CPU time is the work itself; the PyTorch side stays in wall time.
// The PyTorch side runs `python3` with PYTHONPATH=$VPT_BENCH_PYTHONPATH (default: the torch
// that LIBTORCH points into). VPT_BENCH_DIST points at another compiled dist/ (default ../dist).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { computedTrainStepFlops } from './flops.mjs';
import { argValue, median, randomImages, VIT_SHAPES } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.VPT_BENCH_DIST ?? join(here, '..', 'dist'));
const { createModel, runtimeInfo } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);
const { writeRandomBackbone } = await import(pathToFileURL(join(dist, 'lib', 'demo', 'random-backbone.js')).href);

const arg = argValue;
const list = (name, fallback) => arg(name, fallback).split(',').filter(Boolean);
const TOKENS = list('tokens', '1,10,50,100,200').map(Number);
const ALL_SHAPES = VIT_SHAPES;
const SHAPES = list('shapes', 'ti,s').map((k) => {
  if (!ALL_SHAPES[k]) throw new Error(`--shapes: unknown '${k}' (ti, s, b)`);
  return ALL_SHAPES[k];
});
const PRECISIONS = list('precisions', 'fp32,bf16');
const BATCH = Number(arg('batch', 16));
const STEPS = Number(arg('steps', 5));
const WARMUP = Number(arg('warmup', 2));
const ROUNDS = Number(arg('rounds', 2));
const TORCH = !process.argv.includes('--no-torch');
const JSON_OUT = arg('json', null);
const CLOCK = arg('clock', 'wall');
if (!['wall', 'cpu'].includes(CLOCK)) throw new Error(`--clock: '${CLOCK}' is not wall or cpu`);
/** Milliseconds on the chosen clock. */
const now = () => {
  if (CLOCK === 'wall') return performance.now();
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};
const IMG = 224,
  PATCH = 16,
  CLASSES = 200;
const pythonPath = process.env.VPT_BENCH_PYTHONPATH ?? (process.env.LIBTORCH ? dirname(process.env.LIBTORCH) : '');

/** Times two sides interleaved (warmup, then one step of each in turn, the order swapped every
 * round: A B, B A, ...), so that a load spike on a shared machine, and whatever the first step
 * of a round leaves behind for the second (freed heap, caches), hits both alike. Returns each
 * side's median ms and the per-round ratios B / A (paired: a slow drift in the machine's speed
 * cancels out of them). */
async function timedInterleaved([a, b]) {
  const times = [[], []];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    const round = [0, 0];
    for (const k of order) {
      const t0 = now();
      await (k === 0 ? a : b)();
      round[k] = now() - t0;
    }
    if (i >= WARMUP) for (const k of [0, 1]) times[k].push(round[k]);
  }
  return { ms: times.map(median), ratios: times[1].map((t, i) => t / times[0][i]) };
}

const images = { pixels: randomImages(BATCH * 3 * IMG * IMG), shape: [BATCH, 3, IMG, IMG] };
const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % CLASSES);

/** vpt-native with skipDiscardedPromptRows on and off, interleaved: median train and eval step ms. */
async function ours(weights, tokens, precision) {
  const models = [];
  for (const skipDiscardedPromptRows of [true, false]) {
    const model = await createModel({
      weights,
      numClasses: CLASSES,
      prompt: { tokens, deep: true },
      device: 'cpu',
      precision,
      skipDiscardedPromptRows,
    });
    model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
    models.push(model);
  }
  const train = await timedInterleaved(models.map((m) => () => m.trainStep(images, labels)));
  const evaluate = await timedInterleaved(models.map((m) => () => m.evaluate(images, labels)));
  for (const m of models) m.dispose();
  const sides = [0, 1].map((k) => ({ trainMs: train.ms[k], evalMs: evaluate.ms[k] }));
  return { on: sides[0], off: sides[1], trainRatios: train.ratios, evalRatios: evaluate.ratios };
}

function torchSide(shape, tokens, precision) {
  const out = execFileSync(
    'python3',
    [
      join(here, 'torch_train_step.py'),
      ...['--embed', shape.embedDim, '--depth', shape.depth, '--heads', shape.numHeads, '--batch', BATCH],
      ...['--tokens', tokens, '--img', IMG, '--patch', PATCH, '--classes', CLASSES, '--precision', precision],
      ...['--device', 'cpu', '--warmup', WARMUP, '--steps', STEPS],
    ].map(String),
    { env: { ...process.env, PYTHONPATH: pythonPath }, encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').pop());
  return { trainMs: r.msPerStep, evalMs: r.evalMsPerStep, torch: r.torch, threads: r.threads };
}

/** off / on step by step: "median (quartiles)" of the paired ratios of every timed round. */
const paired = (ratios) => {
  const r = [...ratios].sort((x, y) => x - y);
  const q = (f) => r[Math.min(r.length - 1, Math.floor(f * r.length))].toFixed(2);
  return `${median(r).toFixed(2)}x (${q(0.25)}-${q(0.75)})`;
};

const best = (a, b) =>
  a === null ? b : { ...a, trainMs: Math.min(a.trainMs, b.trainMs), evalMs: Math.min(a.evalMs, b.evalMs) };

const info = runtimeInfo();
const dir = await mkdtemp(join(tmpdir(), 'vpt-prompt-scaling-'));
const results = [];
try {
  for (const shape of SHAPES) {
    const weights = await writeRandomBackbone(join(dir, shape.name.replace('/', '_')), {
      ...shape,
      patchSize: PATCH,
      imgSize: IMG,
      seed: 0,
    });
    for (const precision of PRECISIONS) {
      for (const tokens of TOKENS) {
        const row = {
          shape: shape.name,
          precision,
          tokens,
          on: null,
          off: null,
          torch: null,
          trainRatios: [],
          evalRatios: [],
        };
        for (let r = 0; r < ROUNDS; r++) {
          const { on, off, trainRatios, evalRatios } = await ours(weights, tokens, precision);
          row.on = best(row.on, on);
          row.off = best(row.off, off);
          row.trainRatios.push(...trainRatios);
          row.evalRatios.push(...evalRatios);
          if (TORCH) row.torch = best(row.torch, torchSide(shape, tokens, precision));
        }
        const opts = { tokens, img: IMG, patch: PATCH };
        row.gflops = {
          on: computedTrainStepFlops(shape, BATCH, { ...opts, rows: 'kv-prompts' }) / 1e9,
          off: computedTrainStepFlops(shape, BATCH, { ...opts, rows: 'cls-last' }) / 1e9,
          torch: computedTrainStepFlops(shape, BATCH, { ...opts, rows: 'every-row' }) / 1e9,
        };
        results.push(row);
        console.error(JSON.stringify(row));
      }
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}

const f = (x, d = 0) => (x === null || x === undefined ? '-' : x.toFixed(d));
const torchRow = results.find((r) => r.torch)?.torch;
console.log(
  `\nCPU, batch ${BATCH}, ${IMG} px, VPT-deep, ${STEPS} timed steps after ${WARMUP}, best of ${ROUNDS} rounds, ours in ${CLOCK} ms; ` +
    `LibTorch ${info.torchVersion}${torchRow ? `, PyTorch ${torchRow.torch} (${torchRow.threads} threads)` : ''}\n`,
);
console.log(
  '| model | prec | prompts | train ms on | train ms off | train ms PyTorch | on vs off | on vs off, paired | on / PyTorch | eval ms on | eval ms off | eval ms PyTorch | eval on vs off, paired | train GFLOP on / off / PyTorch |',
);
console.log('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
for (const r of results) {
  console.log(
    `| ${r.shape} | ${r.precision} | ${r.tokens} | ${f(r.on.trainMs)} | ${f(r.off.trainMs)} | ${f(r.torch?.trainMs)} | ` +
      `${f(r.off.trainMs / r.on.trainMs, 2)}x | ${paired(r.trainRatios)} | ${r.torch ? f(r.on.trainMs / r.torch.trainMs, 2) : '-'} | ` +
      `${f(r.on.evalMs)} | ${f(r.off.evalMs)} | ${f(r.torch?.evalMs)} | ${paired(r.evalRatios)} | ` +
      `${f(r.gflops.on)} / ${f(r.gflops.off)} / ${f(r.gflops.torch)} |`,
  );
}
if (JSON_OUT)
  await writeFile(
    JSON_OUT,
    JSON.stringify({ batch: BATCH, steps: STEPS, rounds: ROUNDS, clock: CLOCK, results }, null, 2),
  );
