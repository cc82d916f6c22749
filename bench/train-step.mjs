#!/usr/bin/env node
// Times vpt-native's trainStep (VPT-deep, 10 prompts, batch 16, 224 px) against the same step
// in PyTorch eager (bench/torch_train_step.py) on the same torch version, fp32 and bf16, in one
// run. The two sides alternate for several rounds and each reports the best round's median, so
// a noisy neighbour on a shared machine does not decide the ratio. Usage (after `npm ci`):
//   VPT_BENCH_PYTHONPATH=.deps/torch-cpu node bench/train-step.mjs [--steps 10] [--rounds 3]
//     [--backbone-dtype fp32|bf16]
// --backbone-dtype bf16 keeps our frozen backbone's weights in bfloat16 (the PyTorch side is
// unchanged). Each of our measurements runs in a fresh process, so its peak RSS is its own.
// The PyTorch side runs with `python3` and PYTHONPATH=$VPT_BENCH_PYTHONPATH (default: the torch
// that LIBTORCH points into). Prints a markdown table: median ms/step, the ratio ours / torch,
// and our peak RSS growth from before the model was created (CPU).
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { createModel, runtimeInfo } from '../dist/lib/index.js';
import { writeRandomBackbone } from '../dist/lib/demo/random-backbone.js';

const here = dirname(fileURLToPath(import.meta.url));
const argSteps = process.argv.indexOf('--steps');
const STEPS = argSteps > 0 ? Number(process.argv[argSteps + 1]) : 10;
const argRounds = process.argv.indexOf('--rounds');
const ROUNDS = argRounds > 0 ? Number(process.argv[argRounds + 1]) : 3;
const argDtype = process.argv.indexOf('--backbone-dtype');
const BACKBONE_DTYPE = { fp32: 'float32', bf16: 'bfloat16' }[argDtype > 0 ? process.argv[argDtype + 1] : 'fp32'];
if (!BACKBONE_DTYPE) throw new Error('--backbone-dtype must be fp32 or bf16');
const argChild = process.argv.indexOf('--child');
const WARMUP = 3;
const BATCH = 16, TOKENS = 10, IMG = 224, PATCH = 16, CLASSES = 200;
const SHAPES = [
  { name: 'ViT-Ti/16', embedDim: 192, depth: 12, numHeads: 3 },
  { name: 'ViT-S/16', embedDim: 384, depth: 12, numHeads: 6 },
];
const pythonPath = process.env.VPT_BENCH_PYTHONPATH ?? (process.env.LIBTORCH ? dirname(process.env.LIBTORCH) : '');

function randomImages(n) {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; out[i] = s / 2 ** 31 - 1; }
  return out;
}

/** Our side, in this process: median ms/step and peak RSS growth (MiB) from before createModel. */
async function oursHere(dir, shape, precision) {
  const weights = await writeRandomBackbone(join(dir, shape.name.replace('/', '_')), { ...shape, patchSize: PATCH, imgSize: IMG, seed: 0 });
  const rssBefore = process.memoryUsage().rss;
  const model = await createModel({ weights, numClasses: CLASSES, prompt: { tokens: TOKENS, deep: true }, device: 'cpu', precision, backboneDtype: BACKBONE_DTYPE });
  model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4 });
  const images = randomImages(BATCH * 3 * IMG * IMG);
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % CLASSES);
  const times = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    await model.trainStep(images, [BATCH, 3, IMG, IMG], labels);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  const peakRssMiB = (process.resourceUsage().maxRSS * 1024 - rssBefore) / 2 ** 20;
  const evalTimes = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    await model.evaluate(images, [BATCH, 3, IMG, IMG], labels);
    if (i >= WARMUP) evalTimes.push(performance.now() - t0);
  }
  model.dispose();
  const median = (xs) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { ms: median(times), evalMs: median(evalTimes), peakRssMiB };
}

/** Our side in a fresh process, so the peak RSS belongs to this measurement alone. */
function ours(dir, shape, precision) {
  const out = execFileSync(process.execPath, [fileURLToPath(import.meta.url), '--child', JSON.stringify({ dir, shape, precision }),
    '--steps', String(STEPS), '--backbone-dtype', argDtype > 0 ? process.argv[argDtype + 1] : 'fp32'], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

function torchEager(shape, precision) {
  const out = execFileSync('python3', [join(here, 'torch_train_step.py'), '--embed', String(shape.embedDim), '--depth', String(shape.depth),
    '--heads', String(shape.numHeads), '--batch', String(BATCH), '--tokens', String(TOKENS), '--img', String(IMG), '--patch', String(PATCH),
    '--classes', String(CLASSES), '--precision', precision, '--warmup', String(WARMUP), '--steps', String(STEPS)],
  { env: { ...process.env, PYTHONPATH: pythonPath }, encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop());
}

if (argChild > 0) {
  const { dir, shape, precision } = JSON.parse(process.argv[argChild + 1]);
  console.log(JSON.stringify(await oursHere(dir, shape, precision)));
  process.exit(0);
}

const info = runtimeInfo();
const dir = await mkdtemp(join(tmpdir(), 'vpt-bench-'));
const rows = SHAPES.flatMap((shape) => ['fp32', 'bf16'].map((precision) => ({
  shape, precision, oursMs: Infinity, oursEvalMs: Infinity, oursPeakMiB: Infinity, torchMs: Infinity, torchEvalMs: Infinity, torchVersion: '', threads: 0,
})));
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const row of rows) {
      const { ms: oursMs, evalMs: oursEvalMs, peakRssMiB } = ours(dir, row.shape, row.precision);
      const torch = torchEager(row.shape, row.precision);
      row.oursMs = Math.min(row.oursMs, oursMs);
      row.oursEvalMs = Math.min(row.oursEvalMs, oursEvalMs);
      row.torchEvalMs = Math.min(row.torchEvalMs, torch.evalMsPerStep);
      row.oursPeakMiB = Math.min(row.oursPeakMiB, peakRssMiB);
      row.torchMs = Math.min(row.torchMs, torch.msPerStep);
      row.torchVersion = torch.torch;
      row.threads = torch.threads;
      process.stderr.write(`round ${round} ${row.shape.name} ${row.precision}: train ours ${oursMs.toFixed(1)} ms (peak RSS +${peakRssMiB.toFixed(0)} MiB), torch ${torch.msPerStep.toFixed(1)} ms; eval ours ${oursEvalMs.toFixed(1)} ms, torch ${torch.evalMsPerStep.toFixed(1)} ms\n`);
    }
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
console.log(`VPT-deep trainStep and evaluate (forward + top-1, no autograd), batch ${BATCH}, ${IMG} px, ${TOKENS} prompts, SGD; per side the best of ${ROUNDS} alternating rounds, each the median of ${STEPS} steps after ${WARMUP} warmup.`);
console.log(`vpt-native on LibTorch ${info.torchVersion} (${info.cpuThreads} threads, ${info.cpuCapability}), backbone weights ${BACKBONE_DTYPE}; PyTorch eager ${rows[0]?.torchVersion} (${rows[0]?.threads} threads).\n`);
console.log('| backbone | precision | train ms/step: vpt-native | PyTorch eager | ratio (ours / torch) | eval ms/step: vpt-native | PyTorch eager | ratio | vpt-native peak RSS growth MiB (train) |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const r of rows) {
  console.log(`| ${r.shape.name} | ${r.precision} | ${r.oursMs.toFixed(1)} | ${r.torchMs.toFixed(1)} | ${(r.oursMs / r.torchMs).toFixed(3)} | ${r.oursEvalMs.toFixed(1)} | ${r.torchEvalMs.toFixed(1)} | ${(r.oursEvalMs / r.torchEvalMs).toFixed(3)} | ${r.oursPeakMiB.toFixed(0)} |`);
}
