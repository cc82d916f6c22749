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

  it('keeps its default look when noise and hueJitter are passed at their defaults (24, 0.03)', async () => {
    const opts = { classes: 3, imagesPerClass: 2, imageSize: 32, seed: 4 };
    const a = await synthesizeCub(join(tmp.dir, 'look-default'), opts);
    const b = await synthesizeCub(join(tmp.dir, 'look-explicit'), { ...opts, noise: 24, hueJitter: 0.03 });
    for (const [folder, name] of [
      ['001.Red_Disc', 'Red_Disc_0001.jpg'],
      ['003.Yellow_Triangle', 'Yellow_Triangle_0002.jpg'],
    ]) {
      const file = (root: string) => readFile(join(root, 'images', folder!, name!));
      expect((await file(a.root)).equals(await file(b.root))).toBe(true);
    }
    // synth.json names the difficulty options only when they are not the defaults.
    expect(JSON.parse(await readFile(join(a.root, 'synth.json'), 'utf8'))).not.toHaveProperty('noise');
    const c = await synthesizeCub(join(tmp.dir, 'look-hard'), { ...opts, noise: 80, hueJitter: 0.2 });
    expect(JSON.parse(await readFile(join(c.root, 'synth.json'), 'utf8'))).toMatchObject({ noise: 80, hueJitter: 0.2 });
  });

  it('noise and hueJitter make the images noisier and the class colours spread wider', async () => {
    // The 6x6 top-left corner is background in every image (the shape stays within 0.34 + 0.1 of the side from the centre).
    const corners = async (opts: { noise?: number; hueJitter?: number }, name: string) => {
      const r = await synthesizeCub(join(tmp.dir, name), {
        classes: 2,
        imagesPerClass: 12,
        imageSize: 64,
        seed: 9,
        ...opts,
      });
      const out: Array<{ mean: number[]; std: number }> = [];
      for (let j = 1; j <= 12; j++) {
        const path = join(r.root, 'images', '001.Red_Disc', `Red_Disc_${String(j).padStart(4, '0')}.jpg`);
        const px = await sharp(path).extract({ left: 0, top: 0, width: 6, height: 6 }).raw().toBuffer();
        const mean = [0, 1, 2].map((k) => px.filter((_, i) => i % 3 === k).reduce((s, v) => s + v, 0) / 36);
        const sq = [...px].reduce((s, v, i) => s + (v - mean[i % 3]!) ** 2, 0) / px.length;
        out.push({ mean, std: Math.sqrt(sq) });
      }
      return out;
    };
    const avg = (xs: number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;
    const spread = (xs: number[]) => Math.sqrt(avg(xs.map((x) => (x - avg(xs)) ** 2)));
    const base = await corners({ noise: 0, hueJitter: 0 }, 'flat');
    const noisy = await corners({ noise: 120, hueJitter: 0 }, 'noisy');
    const jittered = await corners({ noise: 0, hueJitter: 0.3 }, 'jittered');
    // Pixel noise: the corner's spread within an image (JPEG leaves a flat patch nearly flat).
    expect(avg(base.map((c) => c.std))).toBeLessThan(3);
    expect(avg(noisy.map((c) => c.std))).toBeGreaterThan(15);
    // Hue jitter: the green channel of a red background moves with the hue (saturation and value vary in both).
    const green = (cs: typeof base) => spread(cs.map((c) => c.mean[1]!));
    expect(green(jittered)).toBeGreaterThan(2 * green(base));
    await expect(synthesizeCub(join(tmp.dir, 'bad'), { noise: -1 })).rejects.toMatchObject({
      code: 'VPT_OPTION',
      message: expect.stringContaining('"noise"'),
    });
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
      '--noise',
      '30',
      '--hue-jitter',
      '0.05',
    ]);
    expect(synth.stdout).toContain(`12 images of 3 classes in ${root}`);
    expect(JSON.parse(await readFile(join(root, 'synth.json'), 'utf8'))).toMatchObject({ noise: 30, hueJitter: 0.05 });
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
