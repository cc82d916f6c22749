/** The tune tests' task: a synthetic CUB-layout dataset with val carved from train (distinct from test) and a tiny random ViT. */
import { join } from 'node:path';

import { convertCub } from '../../lib/data/convert-cub.js';
import { synthesizeCub } from '../../lib/data/synth.js';
import { writeRandomBackbone } from '../../lib/demo/random-backbone.js';
import type { TuneConfig } from '../../lib/tune/tune-config.js';

export async function tuneTask(dir: string): Promise<{ data: string; weights: string }> {
  const data = join(dir, 'CUB_200_2011');
  await synthesizeCub(data, { classes: 4, imagesPerClass: 12, imageSize: 40, seed: 5 });
  await convertCub(data, { valFraction: 0.25, seed: 1 });
  const weights = await writeRandomBackbone(join(dir, 'backbone'), {
    embedDim: 24,
    depth: 2,
    numHeads: 2,
    patchSize: 8,
    imgSize: 32,
    seed: 2,
  });
  return { data, weights };
}

/** A small, quick search: 3 lrs x 2 wds, 3 epochs, no final runs. */
export function smallTune(task: { data: string; weights: string }, out: string): TuneConfig {
  return {
    ...task,
    out,
    epochs: 3,
    warmupEpochs: 0,
    batchSize: 8,
    cropSize: 32,
    promptTokens: 2,
    device: 'cpu',
    workers: 1,
    seed: 3,
    grid: { lr: [2, 0.5, 0.1], wd: [0.001, 0] },
    seeds: 0,
  };
}
