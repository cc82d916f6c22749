// Soak: a long CPU training run (tiny ViT, synthetic CUB-layout data) with a val evaluation and
// the run's checkpoint writes after every epoch, sampling the process's resident memory and open
// file descriptors at each epoch. After warm-up, RSS must grow less than 5% and no descriptor may
// leak. Not a test: run it by hand and record the result in bench/RESULTS.md.
//
//   node bench/soak-train.mjs [steps=2000] [--no-sharp-cache] [--images-per-class=16]
//
// --images-per-class sets the epoch's length (16: 16 steps an epoch, 125 epochs for 2,000 steps),
// to tell growth per step from growth per epoch (evaluation, checkpoint writes, curves).
//
// --no-sharp-cache turns libvips' operation cache off (sharp.cache(false)), which otherwise
// holds up to 50 MB of the curves.png renders an epoch makes, to tell that growth from a leak.
//
// Warm-up is the first 10% of the epochs. The growth is the median RSS of the last 10% of the
// epochs against the median of the 10% right after warm-up (medians, so one allocator spike does
// not decide it). Exit code 1 when a criterion fails.
import { readdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { median } from './stats.mjs';

const dist = join(import.meta.dirname, '..', 'dist');
const { synthesizeCub } = await import(join(dist, 'lib/data/synth.js'));
const { convertCub } = await import(join(dist, 'lib/data/convert-cub.js'));
const { writeRandomBackbone } = await import(join(dist, 'lib/demo/random-backbone.js'));
const { train } = await import(join(dist, 'lib/index.js'));

const args = process.argv.slice(2);
const targetSteps = Number(args.find((a) => !a.startsWith('--')) ?? 2000);
if (args.includes('--no-sharp-cache')) (await import('sharp')).default.cache(false);
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
  const fds = () => readdirSync('/proc/self/fd').length;
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
        const m = process.memoryUsage();
        samples.push({
          epoch: e.metrics.epoch,
          step: e.metrics.step,
          rss: m.rss,
          heap: m.heapUsed,
          external: m.external,
          fds: fds(),
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
      externalAfterWarmupMiB: Number(mib(median(afterWarmup.map((s) => s.external)))),
      externalEndMiB: Number(mib(median(end.map((s) => s.external)))),
      fdsAfterWarmup: fdWarm,
      fdsEnd: fdEnd,
      sharpCache: !args.includes('--no-sharp-cache'),
      stepsPerEpoch,
      // RSS (MiB) at each tenth of the run, to see whether it levels off.
      rssByTenthMiB: Array.from({ length: 10 }, (_, i) => Number(mib(samples[Math.floor(((i + 1) * n) / 10) - 1].rss))),
    }),
  );
  const ok = lastStep >= targetSteps && growth < 0.05 && fdEnd <= fdWarm;
  console.log(ok ? 'soak: PASS' : 'soak: FAIL');
  process.exitCode = ok ? 0 : 1;
} finally {
  await rm(root, { recursive: true, force: true });
}
