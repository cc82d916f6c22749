// Soak: a long CPU training run (tiny ViT, synthetic CUB-layout data) with a val evaluation and
// the run's checkpoint writes (best, metrics, state, curves.png) after every epoch, sampling the
// process's resident memory and open file descriptors at each epoch. After warm-up, RSS must grow
// less than 5% and no descriptor may leak. Not a test: run it by hand and record the result in
// bench/RESULTS.md.
//
//   OMP_NUM_THREADS=1 node bench/soak-train.mjs [steps=2000] [--images-per-class=16] [--no-gc]
//
// --images-per-class sets the epoch's length (16: 16 steps an epoch, 125 epochs for 2,000 steps),
// to tell growth per step from growth per epoch (evaluation, checkpoint writes, curves).
//
// Each sample follows a full garbage collection (node's gc(), exposed here): V8 collects its old
// generation lazily, so without it a sample measures how much garbage V8 has let pile up since its
// last full collection (a sawtooth whose period is longer than this soak), not what the process
// keeps. --no-gc samples without it, to see that sawtooth. The JS heap's committed size
// (heapTotal), the native part of RSS (heap and anonymous mappings less V8's heap) and malloc's
// live / free bytes (mallinfo2) are reported beside RSS, to tell where growth is.
//
// Warm-up is the first 10% of the epochs. The growth is the median RSS of the last 10% of the
// epochs against the median of the 10% right after warm-up (medians, so one allocator spike does
// not decide it). Exit code 1 when a criterion fails.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

import { processMemory } from './process-memory.mjs';
import { median } from './stats.mjs';

const dist = resolve(process.env.VPT_BENCH_DIST ?? join(import.meta.dirname, '..', 'dist'));
const { synthesizeCub } = await import(join(dist, 'lib/data/synth.js'));
const { convertCub } = await import(join(dist, 'lib/data/convert-cub.js'));
const { writeRandomBackbone } = await import(join(dist, 'lib/demo/random-backbone.js'));
const { train } = await import(join(dist, 'lib/index.js'));
const { hostHeap } = await import(join(dist, 'lib/host-heap.js'));

const args = process.argv.slice(2);
const targetSteps = Number(args.find((a) => !a.startsWith('--')) ?? 2000);
setFlagsFromString('--expose-gc');
const gc = args.includes('--no-gc') ? () => {} : runInNewContext('gc');
const root = await mkdtemp(join(tmpdir(), 'vpt-soak-'));
try {
  const data = join(root, 'CUB_200_2011');
  const perClass = Number(args.find((a) => a.startsWith('--images-per-class='))?.split('=')[1] ?? 16);
  await synthesizeCub(data, { classes: 5, imagesPerClass: perClass, imageSize: 48, trainFraction: 0.8, seed: 11 });
  await convertCub(data);
  const weights = await writeRandomBackbone(join(root, 'backbone'), {
    embedDim: 32,
    depth: 2,
    numHeads: 2,
    patchSize: 8,
    imgSize: 32,
    seed: 4,
  });
  const batchSize = 4;
  // One epoch first, to learn the steps per epoch.
  const probe = await train({
    data,
    weights,
    out: join(root, 'probe'),
    epochs: 1,
    warmupEpochs: 0,
    batchSize,
    cropSize: 32,
    device: 'cpu',
    workers: 1,
  });
  const stepsPerEpoch = probe.epochs[0].step;
  const epochs = Math.ceil(targetSteps / stepsPerEpoch);
  const samples = [];
  const started = performance.now();
  const result = await train(
    {
      data,
      weights,
      out: join(root, 'soak'),
      epochs,
      warmupEpochs: 1,
      batchSize,
      baseLr: 0.5,
      deep: true,
      promptTokens: 4,
      promptDropout: 0.1,
      cropSize: 32,
      device: 'cpu',
      seed: 2,
      workers: 1,
    },
    {
      onProgress: (e) => {
        if (e.type !== 'epoch') return;
        gc();
        const m = process.memoryUsage();
        const p = processMemory();
        samples.push({
          epoch: e.metrics.epoch,
          step: e.metrics.step,
          rss: p.rss,
          heap: m.heapUsed,
          heapTotal: m.heapTotal,
          external: m.external,
          native: p.heap + p.anon - m.heapTotal,
          fds: p.fds,
          mallocInUse: hostHeap()?.inUse ?? 0,
          mallocFree: hostHeap()?.free ?? 0,
        });
      },
    },
  );
  const seconds = (performance.now() - started) / 1000;
  const n = samples.length;
  const w = Math.max(1, Math.floor(n / 10));
  const afterWarmup = samples.slice(w, 2 * w);
  const end = samples.slice(n - w);
  const mib = (b) => (b / 2 ** 20).toFixed(1);
  const rssWarm = median(afterWarmup.map((s) => s.rss));
  const rssEnd = median(end.map((s) => s.rss));
  const growth = (rssEnd - rssWarm) / rssWarm;
  const fdWarm = Math.max(...afterWarmup.map((s) => s.fds));
  const fdEnd = Math.max(...end.map((s) => s.fds));
  const rssMax = Math.max(...samples.slice(w).map((s) => s.rss));
  const lastStep = samples[n - 1].step;
  console.log(
    JSON.stringify({
      steps: lastStep,
      epochs: n,
      evaluations: result.epochs.filter((m) => m.val).length,
      seconds: Number(seconds.toFixed(1)),
      rssAfterWarmupMiB: Number(mib(rssWarm)),
      rssEndMiB: Number(mib(rssEnd)),
      rssMaxAfterWarmupMiB: Number(mib(rssMax)),
      rssGrowthPercent: Number((growth * 100).toFixed(2)),
      heapAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.heap)))),
      heapEndMiB: Number(mib(median(end.map((s) => s.heap)))),
      heapTotalAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.heapTotal)))),
      heapTotalEndMiB: Number(mib(median(end.map((s) => s.heapTotal)))),
      nativeAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.native)))),
      nativeEndMiB: Number(mib(median(end.map((s) => s.native)))),
      mallocInUseAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.mallocInUse)))),
      mallocInUseEndMiB: Number(mib(median(end.map((s) => s.mallocInUse)))),
      mallocFreeAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.mallocFree)))),
      mallocFreeEndMiB: Number(mib(median(end.map((s) => s.mallocFree)))),
      externalAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.external)))),
      externalEndMiB: Number(mib(median(end.map((s) => s.external)))),
      fdsAfterWarmup: fdWarm,
      fdsEnd: fdEnd,
      gcBeforeSamples: !args.includes('--no-gc'),
      stepsPerEpoch,
      // RSS (MiB) at each tenth of the run, to see whether it levels off.
      rssByTenthMiB: Array.from({ length: 10 }, (_, i) => Number(mib(samples[Math.floor(((i + 1) * n) / 10) - 1].rss))),
      heapTotalByTenthMiB: Array.from({ length: 10 }, (_, i) =>
        Number(mib(samples[Math.floor(((i + 1) * n) / 10) - 1].heapTotal)),
      ),
      nativeByTenthMiB: Array.from({ length: 10 }, (_, i) =>
        Number(mib(samples[Math.floor(((i + 1) * n) / 10) - 1].native)),
      ),
    }),
  );
  const ok = lastStep >= targetSteps && growth < 0.05 && fdEnd <= fdWarm;
  console.log(ok ? 'soak: PASS' : 'soak: FAIL');
  process.exitCode = ok ? 0 : 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
