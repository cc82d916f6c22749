/**
 * `train` runs one tiny epoch on each dataset `prepareDataset` converted from synthetic official
 * files, with the preprocessing the dataset's splits.json names (recorded in config.json).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { writeRandomBackbone } from '../../lib/demo/random-backbone.js';
import { prepareDataset, synthesizeCub, train } from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import {
  writeCarsTree,
  writeDogsTree,
  writeFlowersTree,
  writeNabirdsTree,
  writeVtabTree,
} from '../helpers/datasets.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let weights: string;
beforeAll(async () => {
  tmp = await tempDir();
  weights = await writeRandomBackbone(join(tmp.dir, 'backbone'), {
    embedDim: 24,
    depth: 1,
    numHeads: 2,
    patchSize: 8,
    imgSize: 32,
    seed: 1,
  });
});
afterAll(async () => {
  await tmp.cleanup();
});

const trees = {
  cub: (root: string) => synthesizeCub(root, { classes: 3, imagesPerClass: 12, imageSize: 32, seed: 1 }),
  nabirds: (root: string) => writeNabirdsTree(root, { train: 10 }),
  flowers: (root: string) => writeFlowersTree(root),
  dogs: (root: string) => writeDogsTree(root, { train: 10 }),
  cars: (root: string) => writeCarsTree(root, { train: 10 }),
  'vtab-dtd': (root: string) => writeVtabTree(root),
};

describe('train on prepared datasets', () => {
  for (const [name, write] of Object.entries(trees)) {
    it(`${name}: one epoch`, async () => {
      const root = join(tmp.dir, name);
      await write(root);
      const prepared = await prepareDataset(name, root);
      const result = await train({
        data: prepared.out,
        weights,
        out: join(tmp.dir, `run-${name}`),
        epochs: 1,
        warmupEpochs: 0,
        batchSize: 16,
        promptTokens: 2,
        cropSize: 32,
        device: 'cpu',
        seed: 1,
        workers: 1,
      });
      expect(result.epochs).toHaveLength(1);
      expect(Number.isFinite(result.epochs[0]!.train.loss)).toBe(true);
      expect(result.lastValTop1).not.toBeNull();
      expect(result.lastTestTop1).not.toBeNull();
      // The preprocessing splits.json names (vtab for VTAB-1k tasks), recorded in config.json.
      const config = JSON.parse(await readFile(join(tmp.dir, `run-${name}`, 'config.json'), 'utf8')) as {
        preprocess?: string;
      };
      expect(config.preprocess).toBe(name.startsWith('vtab-') ? 'vtab' : 'fgvc');
    });
  }
});
