/**
 * Synthetic CUB-layout data: the raw layout and its conversion, reproducibility, visually
 * separable classes, folder safety; then the whole data path end to end: synth -> prepare-cub
 * (CLI) -> openDataset -> Loader -> uint8 training steps of a tiny ViT.
 */
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/binding.js';
import { convertCub, createModel, type Dataset, Loader, synthesizeCub } from '../../lib/index.js';
import { TINY_VIT, tempDir } from '../helpers/common.js';
import { synthDataset, writeCubTree } from '../helpers/data.js';

const run = promisify(execFile);
const cli = join(packageRoot, 'dist', 'bin', 'launch.cjs');

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: Dataset;
beforeAll(async () => {
  tmp = await tempDir();
  data = await synthDataset(join(tmp.dir, 'default'));
});
afterAll(async () => {
  await tmp.cleanup();
});

describe('synthesizeCub', () => {
  it('writes the raw CUB layout with the documented defaults (10 classes x 30 images of 64 px, 80% train)', async () => {
    const root = join(tmp.dir, 'default');
    const lines = async (f: string) => (await readFile(join(root, f), 'utf8')).trim().split('\n');
    expect(await lines('images.txt')).toHaveLength(300);
    expect((await lines('images.txt'))[0]).toBe('1 001.Red_Disc/Red_Disc_0001.jpg');
    expect((await lines('classes.txt'))[9]).toBe('10 010.Magenta_Cross');
    expect((await lines('train_test_split.txt')).filter((l) => l.endsWith(' 1'))).toHaveLength(240);
    expect(await readdir(join(root, 'images'))).toHaveLength(10);
    const meta = await sharp(join(root, 'images', '001.Red_Disc', 'Red_Disc_0001.jpg')).metadata();
    expect([meta.format, meta.width, meta.height, meta.channels]).toEqual(['jpeg', 64, 64, 3]);
    expect(data.numClasses).toBe(10);
    expect(data.classNames[4]).toBe('005.Green_Cross');
    expect([data.splits.train!.length, data.splits.val!.length]).toEqual([240, 60]);
  });

  it('is reproducible for a seed', async () => {
    const a = await synthesizeCub(join(tmp.dir, 'a'), { classes: 3, imagesPerClass: 2, imageSize: 32, seed: 4 });
    const b = await synthesizeCub(join(tmp.dir, 'b'), { classes: 3, imagesPerClass: 2, imageSize: 32, seed: 4 });
    const c = await synthesizeCub(join(tmp.dir, 'c'), { classes: 3, imagesPerClass: 2, imageSize: 32, seed: 5 });
    const file = (root: string) => readFile(join(root, 'images', '002.Orange_Square', 'Orange_Square_0002.jpg'));
    expect((await file(a.root)).equals(await file(b.root))).toBe(true);
    expect((await file(a.root)).equals(await file(c.root))).toBe(false);
  });

  it('has visually separable classes: nearest class mean of 8x8 thumbnails gets >= 90% of val right', async () => {
    const thumb = async (path: string) =>
      Float64Array.from(await sharp(path).resize(8, 8, { fit: 'fill' }).raw().toBuffer());
    const sums = Array.from({ length: data.numClasses }, () => new Float64Array(192));
    const counts = new Array<number>(data.numClasses).fill(0);
    for (const s of data.splits.train!) {
      (await thumb(s.path)).forEach((v, i) => {
        sums[s.label]![i]! += v;
      });
      counts[s.label]!++;
    }
    const means = sums.map((m, c) => m.map((v) => v / counts[c]!));
    let right = 0;
    for (const s of data.splits.val!) {
      const t = await thumb(s.path);
      const dist = means.map((m) => m.reduce((acc, v, i) => acc + (v - t[i]!) ** 2, 0));
      if (dist.indexOf(Math.min(...dist)) === s.label) right++;
    }
    expect(right / data.splits.val!.length).toBeGreaterThanOrEqual(0.9);
  });

  it('rewrites its own folder but refuses one holding another dataset', async () => {
    const root = join(tmp.dir, 'again');
    await synthesizeCub(root, { classes: 4, imagesPerClass: 3 });
    await synthesizeCub(root, { classes: 2, imagesPerClass: 3 });
    expect(await readdir(join(root, 'images'))).toHaveLength(2);
    const real = join(tmp.dir, 'real-cub');
    await writeCubTree(real, { images: [[1, 'a/1.jpg']], split: [[1, 1]], labels: [[1, 1]] });
    await expect(synthesizeCub(real)).rejects.toMatchObject({
      code: 'VPT_IO',
      message: expect.stringContaining('did not make'),
    });
    await expect(synthesizeCub(root, { classes: 51 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"classes"'),
    });
  });
});

describe('the data path end to end', () => {
  it('vpt-native synth + prepare-cub on the command line', async () => {
    const root = join(tmp.dir, 'cli');
    const synth = await run(process.execPath, [
      cli,
      'synth',
      root,
      '--classes',
      '3',
      '--images-per-class',
      '4',
      '--image-size',
      '32',
    ]);
    expect(synth.stdout).toContain(`12 images of 3 classes in ${root}`);
    const prep = await run(process.execPath, [cli, 'prepare-cub', root]);
    expect(prep.stdout).toMatch(/train\.json\s+9 images/);
    expect(prep.stdout).toMatch(/val\.json\s+3 images/);
    const again = await run(process.execPath, [cli, 'prepare-cub', root]).then(
      () => null,
      (e: { code: number; stderr: string }) => e,
    );
    expect(again?.code).toBe(1);
    expect(again?.stderr).toMatch(/already exist.*--force.*\[VPT_IO\]/);
    const vpt = await run(process.execPath, [
      cli,
      'prepare-cub',
      root,
      '--val-fraction',
      '0.25',
      '--seed',
      '1',
      '--force',
    ]);
    expect(vpt.stdout).toMatch(/train\.json\s+6 images[\s\S]*val\.json\s+3 images[\s\S]*test\.json\s+3 images/);
  });

  it('a tiny ViT learns the synthetic classes from Loader batches through the uint8 path', async () => {
    const model = await createModel({
      weights: TINY_VIT,
      numClasses: data.numClasses,
      device: 'cpu',
      transfer: 'full',
      seed: 0,
    });
    model.configureOptimizer({ optimizer: 'adamw', lr: 1e-3 });
    const train = new Loader(data.splits.train!, { batchSize: 32, train: true, cropSize: 32, seed: 0, dropLast: true });
    const val = new Loader(data.splits.val!, { batchSize: 60, train: false, cropSize: 32 });
    const evaluate = async () => {
      let correct = 0;
      for await (const b of val.epoch(0)) correct += (await model.evaluate(b.images, b.labels)).correct1;
      return correct / data.splits.val!.length;
    };
    const before = await evaluate();
    for (let epoch = 0; epoch < 6; epoch++) {
      for await (const b of train.epoch(epoch)) await model.trainStep(b.images, b.labels);
    }
    const after = await evaluate();
    expect(after).toBeGreaterThanOrEqual(0.6);
    expect(after).toBeGreaterThan(before + 0.3);
    expect(train.stats.decoded).toBe(240); // every later epoch came from the cache
    await train.close();
    await val.close();
    model.dispose();
  });

  it('convertCub output of synth data passes --check-images', async () => {
    await expect(convertCub(join(tmp.dir, 'default'), { checkImages: true, force: true })).resolves.toMatchObject({
      counts: { train: 240, val: 60 },
    });
  });
});
