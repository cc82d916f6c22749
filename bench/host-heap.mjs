#!/usr/bin/env node
// The host heap policy (lib/host-heap-policy.ts): the CPU train and eval step with glibc malloc
// keeping freed buffers (VPT_HOST_HEAP=keep, the default) against glibc's defaults
// (VPT_HOST_HEAP=default). The policy is process-wide and set when the addon loads, so each side
// runs in processes of its own: --pairs pairs of processes, the order swapped every pair (keep,
// default, then default, keep), each timing --steps train steps and eval steps after --warmup.
// Reported: every pair's default / keep ratio of the median step ms, their median, and each
// side's peak RSS.
//
// Usage (after `npm ci` and `npx tsc -p tsconfig.json`):
//   OMP_WAIT_POLICY=PASSIVE node bench/host-heap.mjs [--pairs 6] [--tokens 10] [--precision fp32|bf16]
//     [--shape ti|s] [--batch 16] [--steps 8] [--warmup 2]
// VPT_BENCH_DIST points at another compiled dist/ (default ../dist).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { argValue, median, randomImages, VIT_SHAPES } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.VPT_BENCH_DIST ?? join(here, '..', 'dist'));
const arg = argValue;
const SHAPES = { ti: VIT_SHAPES.ti, s: VIT_SHAPES.s };
const PAIRS = Number(arg('pairs', 6));
const TOKENS = Number(arg('tokens', 10));
const PRECISION = arg('precision', 'fp32');
const SHAPE = SHAPES[arg('shape', 'ti')];
if (!SHAPE) throw new Error(`--shape: '${arg('shape')}' is not ti or s`);
const BATCH = Number(arg('batch', 16));
const STEPS = Number(arg('steps', 8));
const WARMUP = Number(arg('warmup', 2));
const IMG = 224,
  CLASSES = 200;

/** One side in this process: median train and eval step ms, the policy in effect, peak RSS. */
async function child(weights) {
  const { createModel, runtimeInfo } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);
  const model = await createModel({
    weights,
    numClasses: CLASSES,
    prompt: { tokens: TOKENS, deep: true },
    device: 'cpu',
    precision: PRECISION,
  });
  model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const images = { pixels: randomImages(BATCH * 3 * IMG * IMG), shape: [BATCH, 3, IMG, IMG] };
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % CLASSES);
  const train = [];
  const evaluate = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    let t0 = performance.now();
    await model.trainStep(images, labels);
    const t = performance.now() - t0;
    t0 = performance.now();
    await model.evaluate(images, labels);
    const e = performance.now() - t0;
    if (i >= WARMUP) {
      train.push(t);
      evaluate.push(e);
    }
  }
  model.dispose();
  const result = {
    mode: runtimeInfo().hostHeap.mode,
    trainMs: median(train),
    evalMs: median(evaluate),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

if (process.argv.includes('--child')) {
  await child(arg('weights'));
} else {
  const { writeRandomBackbone } = await import(pathToFileURL(join(dist, 'lib', 'demo', 'random-backbone.js')).href);
  const dir = await mkdtemp(join(tmpdir(), 'vpt-host-heap-'));
  try {
    const weights = await writeRandomBackbone(dir, { ...SHAPE, patchSize: 16, imgSize: IMG, seed: 0 });
    const side = (mode) => {
      const out = execFileSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', '--weights', weights, ...process.argv.slice(2)],
        { env: { ...process.env, VPT_HOST_HEAP: mode }, encoding: 'utf8' },
      );
      const r = JSON.parse(out.trim().split('\n').pop());
      if (r.mode !== mode)
        throw new Error(`VPT_HOST_HEAP=${mode} ran as '${r.mode}' (malloc settings in the environment?)`);
      return r;
    };
    const pairs = [];
    for (let p = 0; p < PAIRS; p++) {
      const order = p % 2 === 0 ? ['keep', 'default'] : ['default', 'keep'];
      const r = {};
      for (const mode of order) r[mode] = side(mode);
      pairs.push(r);
      console.error(JSON.stringify(r));
    }
    const f = (x, d = 0) => x.toFixed(d);
    console.log(
      `\n${SHAPE.name}, ${PRECISION}, ${TOKENS} deep prompts, batch ${BATCH}, CPU, median of ${STEPS} steps after ${WARMUP}, ` +
        `${PAIRS} process pairs (order swapped every pair)\n`,
    );
    console.log(
      '| pair | train ms keep | train ms default | train default / keep | eval ms keep | eval ms default | eval default / keep | peak RSS MiB keep / default |',
    );
    console.log('|--:|--:|--:|--:|--:|--:|--:|--:|');
    for (const [i, { keep, default: def }] of pairs.entries()) {
      console.log(
        `| ${i + 1} | ${f(keep.trainMs)} | ${f(def.trainMs)} | ${f(def.trainMs / keep.trainMs, 2)} | ` +
          `${f(keep.evalMs)} | ${f(def.evalMs)} | ${f(def.evalMs / keep.evalMs, 2)} | ${f(keep.peakRssMiB)} / ${f(def.peakRssMiB)} |`,
      );
    }
    const m = (k) => f(median(pairs.map((p) => p.default[k] / p.keep[k])), 2);
    console.log(`\nmedian default / keep: train ${m('trainMs')}x, eval ${m('evalMs')}x, peak RSS ${m('peakRssMiB')}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
