#!/usr/bin/env node
// Times vpt-native's training loader (decode + resize + batch, uint8 out; crop / flip /
// normalize are left to the device) against a PyTorch DataLoader with VPT's torchvision train
// transform (bench/loader_torch.py) and the same number of workers, on the same JPEG files, in
// one run: cold (every image decoded; with the addon's libjpeg-turbo decoder, and with sharp as
// VPT_IMAGE_DECODER=sharp forces), warm from the in-memory cache, cold while writing the cache
// file, and warm from the cache file in a new loader. The two sides alternate `--repeat` times;
// the table gives medians.
// Usage (after `npm ci`):
//   VPT_BENCH_PYTHON=python3 VPT_BENCH_PYTHONPATH=<torch + torchvision> \
//     node bench/loader.mjs [--images 1000] [--workers 2] [--batch 32] [--crop 224] [--repeat 3]
// With more than 3 workers, start Node with UV_THREADPOOL_SIZE=<workers + 1>.
// The JPEGs (CUB-like 500x375 / 375x500 photos-like scenes, quality 90) are generated once into
// $TMPDIR/vpt-loader-bench. Prints a markdown table of images/s.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import sharp from 'sharp';
import { decodeResized } from '../dist/lib/data/decode-image.js';
import { Loader, openDataset, resizeFor } from '../dist/lib/index.js';
import { median } from './stats.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const IMAGES = arg('images', 1000),
  WORKERS = arg('workers', 2),
  BATCH = arg('batch', 32),
  CROP = arg('crop', 224),
  REPEAT = arg('repeat', 3);
/** Images timed one at a time for the per-stage costs. */
const STAGE_IMAGES = 200;
const ROOT = join(tmpdir(), 'vpt-loader-bench');
const CLASSES = 20;

/** A photo-like RGB scene: smooth colour fields, edges, texture, mild noise. */
function scene(w, h, seed) {
  let s = (seed * 2654435761) >>> 0 || 1;
  const rand = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
  const [fx, fy, ox] = [10 + rand() * 30, 10 + rand() * 30, rand() * w];
  const px = new Uint8Array(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const edge = x > ox ? 50 : 0;
      px[i] = Math.max(0, Math.min(255, 110 + 80 * Math.sin(x / fx) * Math.cos(y / fy) + edge + (rand() - 0.5) * 16));
      px[i + 1] = Math.max(
        0,
        Math.min(255, 60 + 150 * (x / w) * (y / h) + 30 * Math.sin((x + 2 * y) / 7) + (rand() - 0.5) * 16),
      );
      px[i + 2] = Math.max(
        0,
        Math.min(255, 130 + 90 * Math.cos(Math.hypot(x - w / 3, y - h / 2) / 12) - edge + (rand() - 0.5) * 16),
      );
    }
  }
  return px;
}

async function makeDataset() {
  const marker = join(ROOT, `ready-${IMAGES}`);
  if (existsSync(marker)) return;
  await rm(ROOT, { recursive: true, force: true });
  const anno = {};
  for (let i = 0; i < IMAGES; i++) {
    const [w, h] = i % 4 === 3 ? [375, 500] : [500, 375];
    const key = `${String(i % CLASSES).padStart(3, '0')}.Class/img_${i}.jpg`;
    await mkdir(join(ROOT, 'images', dirname(key)), { recursive: true });
    await sharp(scene(w, h, i + 1), { raw: { width: w, height: h, channels: 3 } })
      .jpeg({ quality: 90 })
      .toFile(join(ROOT, 'images', key));
    anno[key] = (i % CLASSES) + 1;
  }
  await writeFile(join(ROOT, 'train.json'), JSON.stringify(anno, null, 4));
  await writeFile(marker, '');
}

async function timeEpoch(loader, epoch) {
  const start = performance.now();
  let n = 0;
  for await (const b of loader.epoch(epoch)) n += b.keys.length;
  return { seconds: (performance.now() - start) / 1000, n };
}

function runTorch(env, python, stages = 0) {
  const args = [
    join(here, 'loader_torch.py'),
    '--root',
    ROOT,
    '--workers',
    String(WORKERS),
    '--batch',
    String(BATCH),
    '--crop',
    String(CROP),
    '--resize',
    String(resizeFor(CROP)),
    '--stages',
    String(stages),
  ];
  return JSON.parse(execFileSync(python, args, { env, encoding: 'utf8' }).trim().split('\n').pop());
}

/**
 * Our loader: cold and warm epochs of one loader; the first epoch of a loader that also writes
 * the cache file; a new loader reading that file.
 */
async function runOurs(samples) {
  const options = { batchSize: BATCH, train: true, cropSize: CROP, workers: WORKERS };
  process.env.VPT_IMAGE_DECODER = 'sharp';
  const sharpLoader = new Loader(samples, { ...options, cacheBytes: 0 });
  const coldSharp = await timeEpoch(sharpLoader, 0);
  const decodedSharp = sharpLoader.stats.decoded;
  await sharpLoader.close();
  delete process.env.VPT_IMAGE_DECODER;
  const defaults = new Loader(samples, { batchSize: BATCH, train: true, cropSize: CROP, cacheBytes: 0 });
  const coldDefault = await timeEpoch(defaults, 0);
  await defaults.close();
  const loader = new Loader(samples, options);
  const cold = await timeEpoch(loader, 0);
  const decodedCold = loader.stats.decoded;
  const warm = await timeEpoch(loader, 1);
  const decodedWarm = loader.stats.decoded - decodedCold;
  await loader.close();
  const cacheFile = join(ROOT, `cache-${resizeFor(CROP)}.vptcache`);
  await rm(cacheFile, { force: true });
  const writer = new Loader(samples, { ...options, cacheFile });
  const coldWrite = await timeEpoch(writer, 0);
  await writer.close();
  const reader = new Loader(samples, { ...options, cacheFile });
  const fromFile = await timeEpoch(reader, 0);
  const decodedFile = reader.stats.decoded;
  await reader.close();
  const rate = (e) => e.n / e.seconds;
  return {
    cold: rate(cold),
    coldSharp: rate(coldSharp),
    coldDefault: rate(coldDefault),
    warm: rate(warm),
    coldWrite: rate(coldWrite),
    fromFile: rate(fromFile),
    decodedCold,
    decodedSharp,
    decodedWarm,
    decodedFile,
  };
}

/** CPU ms per image (all threads) of our decode stages, one image at a time. */
async function ourStages(samples) {
  const paths = samples.slice(0, STAGE_IMAGES).map((s) => s.path);
  const files = await Promise.all(paths.map((f) => readFile(f)));
  const sizes = await Promise.all(files.map((f) => sharp(f).metadata()));
  const stages = {};
  for (const [name, fn] of [
    ['readFile', (i) => readFile(paths[i])],
    [
      'libjpeg-turbo read + decode (no resize)',
      (i) => decodeResized(paths[i], Math.min(sizes[i].width, sizes[i].height), { decoder: 'native' }),
    ],
    [
      'libjpeg-turbo decodeResized (read + decode + resize)',
      (i) => decodeResized(paths[i], resizeFor(CROP), { decoder: 'native' }),
    ],
    ['sharp metadata', (i) => sharp(files[i]).metadata()],
    ['sharp decode', (i) => sharp(files[i]).raw().toBuffer()],
    [
      'sharp decodeResized (readFile + metadata + decode + resize)',
      (i) => decodeResized(paths[i], resizeFor(CROP), { decoder: 'sharp' }),
    ],
  ]) {
    await fn(0);
    const start = process.cpuUsage();
    for (let i = 0; i < paths.length; i++) await fn(i);
    const used = process.cpuUsage(start);
    stages[name] = (used.user + used.system) / 1000 / paths.length;
  }
  return stages;
}

/** The Loader's default: twice the CPUs, at most the libuv pool size - 1. */
function defaultWorkers() {
  const pool = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10) || 4;
  return Math.max(1, Math.min(2 * availableParallelism(), pool - 1));
}

await makeDataset();
const samples = (await openDataset(ROOT)).splits.train;
const python = process.env.VPT_BENCH_PYTHON ?? 'python3';
const env = {
  ...process.env,
  ...(process.env.VPT_BENCH_PYTHONPATH ? { PYTHONPATH: process.env.VPT_BENCH_PYTHONPATH } : {}),
};
const torchRates = [],
  ours = [];
let torchVersion = '';
let torchStages = {};
for (let r = 0; r < REPEAT; r++) {
  const t = runTorch(env, python, r === 0 ? STAGE_IMAGES : 0);
  if (r === 0) torchStages = t.stagesMs;
  torchVersion = t.torch;
  torchRates.push(...t.epochs.map((s) => t.images / s));
  ours.push(await runOurs(samples));
}

const torch = median(torchRates);
const row = (name, rates, decoded) =>
  `| ${name} | ${median(rates).toFixed(0)} | ${(median(rates) / torch).toFixed(2)}x | ${decoded} | ${rates.map((x) => x.toFixed(0)).join(', ')} |`;
console.log(
  `${IMAGES} JPEGs (500x375 / 375x500, q90), batch ${BATCH}, crop ${CROP} (resize ${resizeFor(CROP)}), ${WORKERS} workers, ${REPEAT} alternating repeats, torch ${torchVersion}`,
);
console.log(
  '\n| loader | images/s (median) | vs PyTorch | JPEGs decoded per epoch | all runs |\n|---|---:|---:|---:|---|',
);
console.log(row('PyTorch DataLoader + torchvision (every epoch)', torchRates, 'all'));
console.log(
  row(
    `vpt-native Loader, cold (decode + resize), workers ${WORKERS}`,
    ours.map((o) => o.cold),
    median(ours.map((o) => o.decodedCold)),
  ),
);
console.log(
  row(
    `vpt-native Loader, cold with sharp (VPT_IMAGE_DECODER=sharp), workers ${WORKERS}`,
    ours.map((o) => o.coldSharp),
    median(ours.map((o) => o.decodedSharp)),
  ),
);
console.log(
  row(
    `vpt-native Loader, cold, default workers (${defaultWorkers()} in flight)`,
    ours.map((o) => o.coldDefault),
    median(ours.map((o) => o.decodedCold)),
  ),
);
console.log(
  row(
    'vpt-native Loader, warm (memory cache)',
    ours.map((o) => o.warm),
    Math.max(...ours.map((o) => o.decodedWarm)),
  ),
);
console.log(
  row(
    'vpt-native Loader, cold + writing the cache file',
    ours.map((o) => o.coldWrite),
    median(ours.map((o) => o.decodedCold)),
  ),
);
console.log(
  row(
    'vpt-native Loader, new loader from the cache file',
    ours.map((o) => o.fromFile),
    Math.max(...ours.map((o) => o.decodedFile)),
  ),
);
const stages = await ourStages(samples);
console.log(`\nCPU ms per image, one image at a time (first ${STAGE_IMAGES} images):\n\n| stage | ms |\n|---|---:|`);
for (const [name, ms] of Object.entries(torchStages)) console.log(`| PIL / torchvision: ${name} | ${ms.toFixed(2)} |`);
for (const [name, ms] of Object.entries(stages)) console.log(`| vpt-native: ${name} | ${ms.toFixed(2)} |`);
