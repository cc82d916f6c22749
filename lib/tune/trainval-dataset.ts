/**
 * The VTAB protocol's final runs train on train + val: a dataset folder whose train.json is
 * both splits and whose test.json is the test split, its images/ a link to the original's.
 */
import { copyFile, mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';

import type { Dataset, Sample } from '../data/dataset.js';
import { writeFileAtomic } from '../util/atomic-write.js';

function splitJson(dataset: Dataset, samples: Sample[]): Uint8Array {
  return Buffer.from(JSON.stringify(Object.fromEntries(samples.map((s) => [s.key, dataset.classIds[s.label]!]))));
}

/** Writes (or rewrites) the train + val dataset in `dir`; returns `dir`. */
export async function writeTrainvalDataset(dataset: Dataset, dir: string): Promise<string> {
  await mkdir(dir, { recursive: true });
  await rm(join(dir, 'images'), { force: true });
  await symlink(dataset.imagesDir, join(dir, 'images'), 'dir');
  const { train = [], val = [], test = [] } = dataset.splits;
  await writeFileAtomic(join(dir, 'train.json'), [splitJson(dataset, [...train, ...val])]);
  await writeFileAtomic(join(dir, 'test.json'), [splitJson(dataset, test)]);
  // Class names and what prepare recorded (preprocessing, linked image folders) carry over.
  for (const file of ['classes.txt', 'splits.json'])
    await copyFile(join(dataset.root, file), join(dir, file)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
  return dir;
}
