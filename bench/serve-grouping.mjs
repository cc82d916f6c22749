#!/usr/bin/env node
// serve's mixed batches when tasks have different prompt shapes: grouping (one backbone pass per
// prompt shape, what native/model/multi_task_forward.cc does) against a lower bound of
// pad-and-mask (one pass in which every request has the largest shape's prompt rows; a real
// pad-and-mask would also mask the padded rows, so it can only cost more than this bound).
// If the bound is not faster than grouping, pad-and-mask cannot be; where it is faster, the
// difference is the most pad-and-mask could gain.
//
// Tasks: VPT-deep with N_t prompts (--tokens, one task per entry, e.g. 10,5,1); a batch of
// --batch requests spread evenly over the tasks, one image each. "padded": the same requests,
// all sent to a task with max(N_t) prompts (one shape, one pass). Steps interleaved, medians of
// wall time and of the process's CPU time (user + system; run with OMP_WAIT_POLICY=PASSIVE so
// that OpenMP workers do not spin): on a loaded machine the CPU time is the steadier measure.
//   npm run build:ts && OMP_WAIT_POLICY=PASSIVE node bench/serve-grouping.mjs [--backbone tiny|ti|b]
//     [--tokens 10,5,1] [--batch 16] [--steps 20] [--device cpu|cuda]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = resolve(process.env.VPT_BENCH_DIST ?? join(here, '..', 'dist'));
const { createModel, runtimeInfo } = await import(pathToFileURL(join(dist, 'lib', 'index.js')).href);
const { MultiTaskModel } = await import(pathToFileURL(join(dist, 'lib', 'model', 'multi-task-model.js')).href);
const { writeRandomBackbone } = await import(pathToFileURL(join(dist, 'lib', 'demo', 'random-backbone.js')).href);

const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const BACKBONES = {
  tiny: { name: 'tiny ViT (D 96, depth 4, patch 8)', embedDim: 96, depth: 4, numHeads: 3, patchSize: 8, imgSize: 32 },
  ti: { name: 'ViT-Ti/16', embedDim: 192, depth: 12, numHeads: 3, patchSize: 16, imgSize: 224 },
  b: { name: 'ViT-B/16', embedDim: 768, depth: 12, numHeads: 12, patchSize: 16, imgSize: 224 },
};
const BACKBONE = BACKBONES[arg('backbone', 'tiny')];
const TOKENS = arg('tokens', '10,5,1').split(',').map(Number);
const BATCH = Number(arg('batch', '16'));
const STEPS = Number(arg('steps', '20'));
const DEVICE = arg('device', 'cpu');
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const dir = await mkdtemp(join(tmpdir(), 'vpt-serve-grouping-'));
try {
  const { name: _, ...shape } = BACKBONE;
  const weights = await writeRandomBackbone(join(dir, 'backbone'), { ...shape, seed: 1 });
  const multi = await MultiTaskModel.create({ weights, device: DEVICE });
  const maxTokens = Math.max(...TOKENS);
  const names = [];
  for (const [i, tokens] of [...TOKENS, maxTokens].entries()) {
    const model = await createModel({
      weights,
      numClasses: 10,
      prompt: { tokens, deep: true },
      seed: i + 1,
      device: 'cpu',
    });
    const path = join(dir, `task${i}.safetensors`);
    await model.saveTrainable(path);
    model.dispose();
    await multi.addTask(`task${i}`, path);
    names.push(`task${i}`);
  }
  const padded = names.pop();
  const S = BACKBONE.imgSize;
  const pixels = new Float32Array(BATCH * 3 * S * S).map((_, i) => Math.sin(i * 0.01));
  const batch = { pixels, shape: [BATCH, 3, S, S] };
  const grouped = Array.from({ length: BATCH }, (_, i) => ({ image: i, task: names[i % names.length] }));
  const single = grouped.map((r) => ({ ...r, task: padded }));
  const times = { grouped: [], padded: [] };
  const cpu = { grouped: [], padded: [] };
  for (let s = 0; s < STEPS + 2; s++) {
    for (const [key, requests] of s % 2
      ? [
          ['grouped', grouped],
          ['padded', single],
        ]
      : [
          ['padded', single],
          ['grouped', grouped],
        ]) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await multi.forwardF32(batch, requests);
      const c = process.cpuUsage(c0);
      if (s >= 2) {
        times[key].push(performance.now() - t0);
        cpu[key].push((c.user + c.system) / 1000);
      }
    }
  }
  multi.dispose();
  const info = runtimeInfo();
  const g = median(times.grouped);
  const p = median(times.padded);
  console.log(
    JSON.stringify({
      backbone: BACKBONE.name,
      device: DEVICE,
      threads: info.cpuThreads,
      tokens: TOKENS,
      batch: BATCH,
      groupedMs: Number(g.toFixed(2)),
      paddedBoundMs: Number(p.toFixed(2)),
      groupedOverPadded: Number((g / p).toFixed(3)),
      groupedCpuMs: Number(median(cpu.grouped).toFixed(2)),
      paddedBoundCpuMs: Number(median(cpu.padded).toFixed(2)),
      cpuGroupedOverPadded: Number((median(cpu.grouped) / median(cpu.padded)).toFixed(3)),
    }),
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
