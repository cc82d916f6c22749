// The training loader alone, four epochs (cold, then warm from the memory cache), for A/B runs of
// two builds: node bench/loader-epochs.mjs <dist root>   (e.g. ./dist, or a worktree's dist)
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dist = process.argv[2];
const { synthesizeCub } = await import(join(dist, 'lib/data/synth.js'));
const { convertCub } = await import(join(dist, 'lib/data/convert-cub.js'));
const { openDataset } = await import(join(dist, 'lib/data/dataset.js'));
const { Loader } = await import(join(dist, 'lib/data/loader.js'));
const dir = await mkdtemp(join(tmpdir(), 'vpt-ab-'));
const root = join(dir, 'CUB_200_2011');
await synthesizeCub(root, { classes: 20, imagesPerClass: 29, imageSize: 400, trainFraction: 0.9, seed: 5 });
await convertCub(root);
const samples = (await openDataset(root)).splits.train;
const loader = new Loader(samples, { batchSize: 16, train: true, cropSize: 224, dropLast: true });
const out = [];
for (let e = 0; e < 4; e++) {
  const t0 = performance.now();
  let n = 0;
  for await (const b of loader.epoch(e)) n += b.labels.length;
  out.push((n / ((performance.now() - t0) / 1000)).toFixed(0));
}
await loader.close();
console.log(dist, 'epochs img/s (cold, warm, warm, warm):', out.join(' '));
