#!/usr/bin/env node
// `npm run bench`: vpt-native's VPT-deep train step and eval step (10 prompts, 224 px) against
// the same model in PyTorch eager (bench/torch_train_step.py) on the same torch version, in one
// run, then the training loader's images/s on CUB-sized JPEGs.
//
//   CPU:  ViT-Ti/16 and ViT-S/16, batch 16, fp32 and bf16 autocast; our step takes normalized
//         float batches.
//   CUDA: ViT-B/16, batch 128, bf16 autocast; our step takes uint8 batches uploaded one batch
//         ahead (as train() runs it), eagerly and as a CUDA graph; PyTorch eager and
//         torch.compile keep their input on the GPU. Adds TFLOP/s and MFU (bench/flops.mjs).
//
// The sides alternate for several rounds and each reports its best round's median, so a noisy
// neighbour on a shared machine does not decide the ratio. Each of our measurements runs in a
// fresh process, so its peak memory is its own: peak RSS growth from before the model was
// created on CPU (PyTorch: from after `import torch`), the caching allocator's peak on CUDA.
//
// Usage (after `npm ci`):
//   VPT_BENCH_PYTHONPATH=.deps/torch-cpu node bench/train-step.mjs [--device cpu|cuda]
//     [--steps 10] [--rounds 3] [--batch N] [--backbone-dtype fp32|bf16] [--loader-images 512]
//     [--fused-layer-norm on|off]
// The PyTorch side runs with `python3` and PYTHONPATH=$VPT_BENCH_PYTHONPATH (default: the torch
// that LIBTORCH points into). --backbone-dtype bf16 keeps our frozen weights in bfloat16 (the
// PyTorch side is unchanged). --fused-layer-norm sets createModel's fusedLayerNorm for our side
// (default: off, the model's default); on CUDA both settings are measured anyway, eagerly and
// with CUDA graphs. --loader-images 0 skips the loader.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCub } from '../dist/lib/data/convert-cub.js';
import { defaultDecodeWorkers } from '../dist/lib/data/loader.js';
import { synthesizeCub } from '../dist/lib/data/synth.js';
import { writeRandomBackbone } from '../dist/lib/demo/random-backbone.js';
import { createModel, deviceMemory, Loader, openDataset, runtimeInfo } from '../dist/lib/index.js';
import { H200_BF16_PEAK_TFLOPS, trainStepFlops } from './flops.mjs';
import { median, randomImages } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const info = runtimeInfo();
const DEVICE = arg('device', info.cudaAvailable ? 'cuda' : 'cpu');
const CUDA = DEVICE.startsWith('cuda');
if (CUDA && !info.cudaAvailable)
  throw new Error(`--device ${DEVICE}: CUDA is not available to this build (LibTorch ${info.torchVersion})`);
const STEPS = Number(arg('steps', 10));
const ROUNDS = Number(arg('rounds', 3));
const BATCH = Number(arg('batch', CUDA ? 128 : 16));
const LOADER_IMAGES = Number(arg('loader-images', 512));
const DTYPE_FLAG = arg('backbone-dtype', 'fp32');
const BACKBONE_DTYPE = { fp32: 'float32', bf16: 'bfloat16' }[DTYPE_FLAG];
if (!BACKBONE_DTYPE) throw new Error('--backbone-dtype must be fp32 or bf16');
const FUSED_FLAG = arg('fused-layer-norm', 'default');
if (!['on', 'off', 'default'].includes(FUSED_FLAG)) throw new Error('--fused-layer-norm must be on or off');
const FUSED = { on: true, off: false, default: undefined }[FUSED_FLAG];
const WARMUP = 3;
const TOKENS = 10,
  IMG = 224,
  PATCH = 16,
  CLASSES = 200;
const SHAPES = CUDA
  ? [{ name: 'ViT-B/16', embedDim: 768, depth: 12, numHeads: 12 }]
  : [
      { name: 'ViT-Ti/16', embedDim: 192, depth: 12, numHeads: 3 },
      { name: 'ViT-S/16', embedDim: 384, depth: 12, numHeads: 6 },
    ];
const PRECISIONS = CUDA ? ['bf16'] : ['fp32', 'bf16'];
// MFU needs the device's peak; known here for the H100 / H200 (dense bf16).
const PEAK_TFLOPS =
  Number(arg('peak-tflops', CUDA && /H100|H200/.test(info.gpus[0]?.name ?? '') ? H200_BF16_PEAK_TFLOPS : 0)) || null;
const pythonPath = process.env.VPT_BENCH_PYTHONPATH ?? (process.env.LIBTORCH ? dirname(process.env.LIBTORCH) : '');

/** Times `step` (WARMUP + STEPS calls), returns the median of the timed ones in ms. */
async function timed(step) {
  const times = [];
  for (let i = 0; i < WARMUP + STEPS; i++) {
    const t0 = performance.now();
    await step(i);
    if (i >= WARMUP) times.push(performance.now() - t0);
  }
  return median(times);
}

/** Our side, in this process: median ms per train and eval step, and our peak memory. */
async function oursHere(dir, shape, precision, cudaGraphs, fused) {
  const weights = await writeRandomBackbone(join(dir, shape.name.replace('/', '_')), {
    ...shape,
    patchSize: PATCH,
    imgSize: IMG,
    seed: 0,
  });
  const rssBefore = process.resourceUsage().maxRSS;
  const model = await createModel({
    weights,
    numClasses: CLASSES,
    prompt: { tokens: TOKENS, deep: true },
    device: DEVICE,
    precision,
    backboneDtype: BACKBONE_DTYPE,
    ...(fused === undefined ? {} : { fusedLayerNorm: fused }),
  });
  model.configureOptimizer({ optimizer: 'sgd', lr: 0.01, momentum: 0.9, weightDecay: 1e-4, cudaGraphs });
  const labels = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % CLASSES);
  if (CUDA) deviceMemory(DEVICE, { resetPeak: true });
  let trainMs,
    evalMs,
    graphStatus = null;
  if (CUDA) {
    // As train() runs: the next uint8 batch is uploaded while the step runs.
    const batch = {
      pixels: new Uint8Array(BATCH * IMG * IMG * 3).map((_, i) => (i * 31) % 251),
      shape: [BATCH, IMG, IMG, 3],
      crops: new Int32Array(2 * BATCH),
      flips: new Uint8Array(BATCH),
      cropSize: IMG,
    };
    let next = model.upload(batch);
    const run = async (fn) => {
      const staged = await next;
      next = model.upload(batch);
      await fn(staged);
    };
    trainMs = await timed(() => run((staged) => model.trainStep(staged, labels)));
    evalMs = await timed(() => run((staged) => model.evaluate(staged, labels)));
    await next;
    graphStatus = model.graphStatus();
  } else {
    const input = { pixels: randomImages(BATCH * 3 * IMG * IMG), shape: [BATCH, 3, IMG, IMG] };
    trainMs = await timed(() => model.trainStep(input, labels));
    evalMs = await timed(() => model.evaluate(input, labels));
  }
  const peakMiB = CUDA
    ? deviceMemory(DEVICE).peakAllocated / 2 ** 20
    : (process.resourceUsage().maxRSS - rssBefore) / 1024;
  const fusedLayerNorm = model.info().fusedLayerNorm;
  model.dispose();
  return { ms: trainMs, evalMs, peakMiB, graphStatus, fusedLayerNorm };
}

/** Our side in a fresh process, so the peak memory belongs to this measurement alone. */
function ours(dir, shape, precision, cudaGraphs = false, fused = FUSED) {
  const out = execFileSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      '--child',
      JSON.stringify({ dir, shape, precision, cudaGraphs, fused }),
      '--device',
      DEVICE,
      '--steps',
      String(STEPS),
      '--batch',
      String(BATCH),
      '--backbone-dtype',
      DTYPE_FLAG,
    ],
    { encoding: 'utf8' },
  );
  return JSON.parse(out.trim().split('\n').pop());
}

function torchSide(shape, precision, compile = false) {
  const out = execFileSync(
    'python3',
    [
      join(here, 'torch_train_step.py'),
      '--embed',
      String(shape.embedDim),
      '--depth',
      String(shape.depth),
      '--heads',
      String(shape.numHeads),
      '--batch',
      String(BATCH),
      '--tokens',
      String(TOKENS),
      '--img',
      String(IMG),
      '--patch',
      String(PATCH),
      '--classes',
      String(CLASSES),
      '--precision',
      precision,
      '--device',
      DEVICE,
      '--warmup',
      String(WARMUP),
      '--steps',
      String(STEPS),
      ...(compile ? ['--compile'] : []),
    ],
    { env: { ...process.env, PYTHONPATH: pythonPath }, encoding: 'utf8' },
  );
  const r = JSON.parse(out.trim().split('\n').pop());
  return { ...r, peakMiB: CUDA ? r.peakBytes / 2 ** 20 : r.peakRssMiB };
}

if (process.argv.includes('--child')) {
  const { dir, shape, precision, cudaGraphs, fused } = JSON.parse(arg('child'));
  console.log(JSON.stringify(await oursHere(dir, shape, precision, cudaGraphs, fused)));
  process.exit(0);
}

/** Cold (decode + resize) and warm (memory cache) epochs of the training loader. */
async function loaderImagesPerSecond(dir) {
  const root = join(dir, 'CUB_200_2011');
  // CUB's images are about 500x375; synth makes squares, 400 px has about as many pixels.
  await synthesizeCub(root, {
    classes: 20,
    imagesPerClass: Math.ceil(LOADER_IMAGES / 20 / 0.9),
    imageSize: 400,
    trainFraction: 0.9,
    seed: 5,
  });
  await convertCub(root);
  const samples = (await openDataset(root)).splits.train;
  const loader = new Loader(samples, {
    batchSize: Math.min(BATCH, samples.length),
    train: true,
    cropSize: IMG,
    dropLast: true,
  });
  const epoch = async (e) => {
    const t0 = performance.now();
    let n = 0;
    for await (const batch of loader.epoch(e)) n += batch.labels.length;
    return { images: n, imagesPerSecond: n / ((performance.now() - t0) / 1000) };
  };
  const cold = await epoch(0);
  const warm = await epoch(1);
  await loader.close();
  return { cold, warm, workers: defaultDecodeWorkers() };
}

const dir = await mkdtemp(join(tmpdir(), 'vpt-bench-'));
const rows = SHAPES.flatMap((shape) =>
  PRECISIONS.map((precision) => ({
    shape,
    precision,
    ours: null,
    graphs: null,
    fusedEager: null,
    fusedGraphs: null,
    torch: null,
    compiled: null,
  })),
);
const best = (a, b) => (!a || b.ms < a.ms ? b : a);
const bestTorch = (a, b) => (!a || b.msPerStep < a.msPerStep ? b : a);
let loader;
try {
  for (let round = 1; round <= ROUNDS; round++) {
    for (const row of rows) {
      const o = ours(dir, row.shape, row.precision);
      const t = torchSide(row.shape, row.precision);
      row.ours = best(row.ours, o);
      row.torch = bestTorch(row.torch, t);
      let line = `round ${round} ${row.shape.name} ${row.precision}: train ours ${o.ms.toFixed(1)} ms, torch ${t.msPerStep.toFixed(1)} ms; eval ours ${o.evalMs.toFixed(1)} ms, torch ${t.evalMsPerStep.toFixed(1)} ms`;
      if (CUDA) {
        const g = ours(dir, row.shape, row.precision, true);
        row.graphs = best(row.graphs, g);
        line += `; ours with CUDA graphs ${g.ms.toFixed(1)} ms (${g.graphStatus.replays} replays${g.graphStatus.fallback ? `, fallback: ${g.graphStatus.fallback}` : ''})`;
        // fusedLayerNorm both ways, whatever --fused-layer-norm chose for the rows above.
        const fe = ours(dir, row.shape, row.precision, false, !o.fusedLayerNorm);
        const fg = ours(dir, row.shape, row.precision, true, !o.fusedLayerNorm);
        row.fusedEager = best(row.fusedEager, fe);
        row.fusedGraphs = best(row.fusedGraphs, fg);
        line += `; fusedLayerNorm ${fe.fusedLayerNorm}: ${fe.ms.toFixed(1)} ms eager, ${fg.ms.toFixed(1)} ms with graphs`;
      }
      process.stderr.write(`${line}\n`);
    }
  }
  if (CUDA) {
    for (const row of rows) {
      try {
        row.compiled = torchSide(row.shape, row.precision, true);
      } catch (error) {
        row.compiled = { error: String(error).slice(0, 500) };
      }
    }
  }
  if (LOADER_IMAGES > 0) loader = await loaderImagesPerSecond(dir);
} finally {
  await rm(dir, { recursive: true, force: true });
}

const ips = (ms) => (BATCH * 1000) / ms;
const tflops = (shape, ms) =>
  trainStepFlops(shape, BATCH, { tokens: TOKENS, img: IMG, patch: PATCH }) / (ms / 1000) / 1e12;
const mfu = (shape, ms) => (PEAK_TFLOPS ? `${((100 * tflops(shape, ms)) / PEAK_TFLOPS).toFixed(1)}%` : '-');
const f1 = (x) => (x === null || x === undefined || Number.isNaN(x) ? '-' : x.toFixed(1));

console.log(
  `VPT-deep trainStep and evaluate (forward + top-1, no autograd), batch ${BATCH}, ${IMG} px, ${TOKENS} prompts, SGD momentum; per side the best of ${ROUNDS} alternating rounds, each the median of ${STEPS} steps after ${WARMUP} warmup.`,
);
console.log(
  `Device ${DEVICE}${CUDA ? ` (${info.gpus[0]?.name ?? 'GPU'})` : ''}; vpt-native on LibTorch ${info.torchVersion} (${info.cpuThreads} threads, ${info.cpuCapability}), backbone weights ${BACKBONE_DTYPE}, fusedLayerNorm ${rows[0]?.ours?.fusedLayerNorm}${CUDA ? ', uint8 batches uploaded one ahead' : ''}; PyTorch eager ${rows[0]?.torch?.torch} (${rows[0]?.torch?.threads} threads).`,
);
console.log(
  `Peak memory: ${CUDA ? "the CUDA caching allocator's peak" : 'peak RSS growth from before the model (ours) / after `import torch` (PyTorch)'}, MiB.\n`,
);
const header = [
  'backbone',
  'precision',
  'train ms/step: vpt-native',
  'PyTorch eager',
  'ratio (ours / torch)',
  'train img/s: vpt-native',
  'PyTorch eager',
  'eval ms/step: vpt-native',
  'PyTorch eager',
  'ratio',
  'peak MiB: vpt-native',
  'PyTorch eager',
];
if (CUDA) header.push('TFLOP/s: vpt-native', 'PyTorch eager', 'MFU: vpt-native', 'PyTorch eager');
console.log(`| ${header.join(' | ')} |`);
console.log(`|${header.map(() => '---').join('|')}|`);
for (const r of rows) {
  const cells = [
    r.shape.name,
    r.precision,
    f1(r.ours.ms),
    f1(r.torch.msPerStep),
    (r.ours.ms / r.torch.msPerStep).toFixed(3),
    f1(ips(r.ours.ms)),
    f1(ips(r.torch.msPerStep)),
    f1(r.ours.evalMs),
    f1(r.torch.evalMsPerStep),
    (r.ours.evalMs / r.torch.evalMsPerStep).toFixed(3),
    f1(r.ours.peakMiB),
    f1(r.torch.peakMiB),
  ];
  if (CUDA)
    cells.push(
      f1(tflops(r.shape, r.ours.ms)),
      f1(tflops(r.shape, r.torch.msPerStep)),
      mfu(r.shape, r.ours.ms),
      mfu(r.shape, r.torch.msPerStep),
    );
  console.log(`| ${cells.join(' | ')} |`);
}
if (CUDA) {
  console.log(
    '\nThe strongest peers on GPU: our step replayed as a CUDA graph (`cudaGraphs`), PyTorch with torch.compile.\n',
  );
  console.log(
    '| backbone | vpt-native + CUDA graphs ms/step | img/s | MFU | graph replays / fallback | torch.compile ms/step | img/s | MFU | ratio (ours graphs / compile) |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const c = r.compiled?.msPerStep;
    console.log(
      `| ${r.shape.name} | ${f1(r.graphs.ms)} | ${f1(ips(r.graphs.ms))} | ${mfu(r.shape, r.graphs.ms)} | ${r.graphs.graphStatus.replays} / ${r.graphs.graphStatus.fallback ?? 'none'} | ` +
        `${c ? f1(c) : (r.compiled?.error ?? '-')} | ${c ? f1(ips(c)) : '-'} | ${c ? mfu(r.shape, c) : '-'} | ${c ? (r.graphs.ms / c).toFixed(3) : '-'} |`,
    );
  }
}
if (CUDA) {
  console.log(
    '\nfusedLayerNorm (residual add + LayerNorm + prompt insertion in one kernel) on and off, our train step, ms/step:\n',
  );
  console.log('| backbone | eager, fusedLayerNorm off | eager, on | CUDA graphs, off | CUDA graphs, on |');
  console.log('|---|---|---|---|---|');
  for (const r of rows) {
    const [offEager, onEager] = r.ours.fusedLayerNorm ? [r.fusedEager, r.ours] : [r.ours, r.fusedEager];
    const [offGraphs, onGraphs] = r.graphs.fusedLayerNorm ? [r.fusedGraphs, r.graphs] : [r.graphs, r.fusedGraphs];
    console.log(
      `| ${r.shape.name} | ${f1(offEager.ms)} | ${f1(onEager.ms)} | ${f1(offGraphs.ms)} | ${f1(onGraphs.ms)} |`,
    );
  }
}
if (loader) {
  const fastest = Math.max(
    ...rows.map((r) =>
      ips(Math.min(r.ours.ms, r.graphs?.ms ?? Infinity, r.fusedEager?.ms ?? Infinity, r.fusedGraphs?.ms ?? Infinity)),
    ),
  );
  console.log(
    `\nLoader (decode + resize + batch, uint8 out; crop / flip / normalize happen on the model's device), ${loader.cold.images} CUB-sized JPEGs (400x400), batch ${Math.min(BATCH, loader.cold.images)}, ${loader.workers} decodes in flight (the Loader's default):`,
  );
  console.log(
    `cold epoch ${f1(loader.cold.imagesPerSecond)} img/s, warm epoch (memory cache) ${f1(loader.warm.imagesPerSecond)} img/s; our fastest train step above: ${f1(fastest)} img/s ` +
      `(${loader.cold.imagesPerSecond > fastest ? 'the cold loader keeps up' : 'the cold loader is slower: the step waits for data in the first epoch'}).`,
  );
}
