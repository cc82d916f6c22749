/**
 * VTAB-1k's preprocessing (`preprocess: 'vtab'`): each image resized to exactly S x S with PIL's
 * bicubic filter (torchvision's Resize((S, S), BICUBIC) on a PIL image), no crop, no flip, for
 * training and evaluation alike. Decoding against PIL's pixels (golden PNGs from
 * test/fixtures/data/generate_vtab.py), the loader's batches, the decoded-image cache file, and
 * `train` on a VTAB-prepared synthetic task (config.json records the preprocessing).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { Command } from 'commander';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { loadAddon } from '../../lib/binding.js';
import { commandLineFlags, registerTrainCommand } from '../../lib/cli/train-command.js';
import { resolveCliConfig } from '../../lib/config/config-sources.js';
import { resolveTrainConfig } from '../../lib/config/train-config.js';
import { decodeResized } from '../../lib/data/decode-image.js';
import { writeRandomBackbone } from '../../lib/demo/random-backbone.js';
import {
  type Batch,
  evaluate,
  Loader,
  openDataset,
  predict,
  prepareDataset,
  type Sample,
  train,
} from '../../lib/index.js';
import { FIXTURES, tempDir } from '../helpers/common.js';
import { writeVtabTree } from '../helpers/datasets.js';

const DATA = join(FIXTURES, 'data');
const JPEGS = ['tiny-32.jpg', 'strip.jpg', 'rgb-landscape.jpg', 'gray-portrait.jpg', 'exif-rotated.jpg'];
const ALL = [...JPEGS, 'rgba-small.png'];
const NATIVE_JPEG = typeof loadAddon().addon.decodeJpegFile === 'function';
/**
 * sharp (libvips) vs PIL, in uint8 levels: libvips' cubic reducer and bicubic affine are
 * Catmull-Rom as PIL's BICUBIC, but with other fixed-point rounding, another pass order and
 * another decoder (libvips' libjpeg, and its PNG reader). Measured on these fixtures (sharp
 * 0.35.5's libvips): max 3 (strip.jpg, shrunk along one side and enlarged along the other), mean
 * <= 0.19 (rgb-landscape.jpg); 4 / 0.3 leaves room for another libvips build.
 */
const SHARP_TOLERANCE = { max: 4, mean: 0.3 };

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  tmp = await tempDir();
});
afterAll(async () => {
  await tmp.cleanup();
});

async function goldenPixels(name: string): Promise<Uint8Array> {
  const { data, info } = await sharp(join(DATA, `golden-vtab-${name.replace(/\.\w+$/, '')}.png`))
    .raw()
    .toBuffer({ resolveWithObject: true });
  expect([info.width, info.height, info.channels]).toEqual([224, 224, 3]);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

function diff(a: Uint8Array, b: Uint8Array): { max: number; mean: number } {
  expect(a.length).toBe(b.length);
  let max = 0;
  let sum = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    max = Math.max(max, d);
    sum += d;
  }
  return { max, mean: sum / a.length };
}

describe("decoding with fit 'fill' vs PIL's resize((224, 224), BICUBIC)", () => {
  it('golden-vtab.json describes the fixtures', async () => {
    const golden = JSON.parse(await readFile(join(DATA, 'golden-vtab.json'), 'utf8')) as {
      size: number;
      images: Record<string, { source: number[]; upright: number[] }>;
    };
    expect(golden.size).toBe(224);
    expect(Object.keys(golden.images).sort()).toEqual([...ALL].sort());
    expect(golden.images['strip.jpg']!.upright).toEqual([600, 90]);
    expect(golden.images['exif-rotated.jpg']!.upright).toEqual([300, 400]);
  });

  for (const name of JPEGS) {
    it.skipIf(!NATIVE_JPEG)(`native JPEG path: ${name} bit for bit`, async () => {
      const image = await decodeResized(join(DATA, name), 224, { fit: 'fill', decoder: 'native' });
      expect([image.width, image.height]).toEqual([224, 224]);
      expect(diff(image.data, await goldenPixels(name))).toEqual({ max: 0, mean: 0 });
    });
  }

  for (const name of ALL) {
    it(`sharp path: ${name} within ${SHARP_TOLERANCE.max} levels (mean ${SHARP_TOLERANCE.mean})`, async () => {
      const image = await decodeResized(join(DATA, name), 224, { fit: 'fill', decoder: 'sharp' });
      expect([image.width, image.height]).toEqual([224, 224]);
      const d = diff(image.data, await goldenPixels(name));
      expect(d.max).toBeLessThanOrEqual(SHARP_TOLERANCE.max);
      expect(d.mean).toBeLessThanOrEqual(SHARP_TOLERANCE.mean);
    });
  }

  it('a square image of the target size is kept as decoded; fit is checked', async () => {
    const a = await decodeResized(join(DATA, 'tiny-32.jpg'), 32, { fit: 'fill' });
    const b = await decodeResized(join(DATA, 'tiny-32.jpg'), 32);
    expect([a.width, a.height]).toEqual([32, 32]);
    expect(diff(a.data, b.data).max).toBe(0);
    await expect(decodeResized(join(DATA, 'tiny-32.jpg'), 32, { fit: 'crop' as never })).rejects.toMatchObject({
      code: 'VPT_OPTION',
    });
  });
});

describe("Loader with preprocess: 'vtab'", () => {
  const samples: Sample[] = ALL.map((name, i) => ({ key: name, path: join(DATA, name), label: i }));

  async function epochs(train: boolean, preprocess: 'fgvc' | 'vtab', cacheFile?: string): Promise<Batch[]> {
    const loader = new Loader(samples, {
      batchSize: 4,
      train,
      cropSize: 224,
      preprocess,
      seed: 3,
      ...(cacheFile ? { cacheFile } : {}),
    });
    const out: Batch[] = [];
    for (const e of [0, 1]) for await (const b of loader.epoch(e)) out.push(b);
    await loader.close();
    return out;
  }

  it('training batches are the whole S x S image: crops at (0, 0), no flips, pixels as decoded', async () => {
    const batches = await epochs(true, 'vtab');
    expect(batches.length).toBe(4);
    const decoded = new Map<string, Uint8Array>();
    for (const name of ALL) decoded.set(name, (await decodeResized(join(DATA, name), 224, { fit: 'fill' })).data);
    for (const b of batches) {
      const n = b.keys.length;
      expect(b.images.shape).toEqual([n, 224, 224, 3]);
      expect(b.images.cropSize).toBe(224);
      expect([...b.images.crops]).toEqual(new Array(2 * n).fill(0));
      expect([...b.images.flips]).toEqual(new Array(n).fill(0));
      b.keys.forEach((key, k) => {
        const slot = b.images.pixels.subarray(k * 224 * 224 * 3, (k + 1) * 224 * 224 * 3);
        expect(diff(slot, decoded.get(key)!).max).toBe(0);
      });
    }
    // The same with train: false (no augmentation either way).
    const evalBatches = await epochs(false, 'vtab');
    expect(evalBatches.flatMap((b) => [...b.images.crops, ...b.images.flips]).every((v) => v === 0)).toBe(true);
  });

  it('the default is fgvc: 256 x 256 windows with random crops inside', async () => {
    const [b] = await epochs(true, 'fgvc');
    expect(b!.images.shape.slice(1)).toEqual([256, 256, 3]);
  });

  it('a cache file of the shorter-side resize is not taken for the square one', async () => {
    const file = join(tmp.dir, 'cache', 'split.vptcache');
    // cropSize 196 resizes to 224 under fgvc: the same number as vtab's 224.
    const fgvc = new Loader(samples, { batchSize: 6, train: false, cropSize: 196, cacheFile: file });
    for await (const _ of fgvc.epoch(0));
    await fgvc.close();
    const vtab = new Loader(samples, {
      batchSize: 6,
      train: false,
      cropSize: 224,
      preprocess: 'vtab',
      cacheFile: file,
    });
    for await (const _ of vtab.epoch(0));
    expect(vtab.stats.cacheFile).toBe('other-resize');
    await vtab.close();
    const again = new Loader(samples, {
      batchSize: 6,
      train: false,
      cropSize: 224,
      preprocess: 'vtab',
      cacheFile: file,
    });
    for await (const batch of again.epoch(0)) expect(batch.images.shape).toEqual([6, 224, 224, 3]);
    expect(again.stats).toMatchObject({ cacheFile: 'loaded', cacheFileImages: 6, decoded: 0 });
    await again.close();
  });

  it('rejects an unknown preprocess', () => {
    expect(
      () => new Loader(samples, { batchSize: 2, train: true, cropSize: 32, preprocess: 'imagenet' as never }),
    ).toThrow(/preprocess/);
  });
});

describe('train on a VTAB-1k task', () => {
  it("one epoch with the dataset's preprocessing (vtab), recorded in config.json; --preprocess overrides it", async () => {
    const root = join(tmp.dir, 'dtd');
    await writeVtabTree(root);
    const prepared = await prepareDataset('vtab-dtd', root);
    expect((await openDataset(prepared.out)).preprocess).toBe('vtab');
    const weights = await writeRandomBackbone(join(tmp.dir, 'backbone'), {
      embedDim: 24,
      depth: 1,
      numHeads: 2,
      patchSize: 8,
      imgSize: 32,
      seed: 1,
    });
    const common = {
      data: prepared.out,
      weights,
      epochs: 1,
      warmupEpochs: 0,
      batchSize: 6,
      promptTokens: 2,
      cropSize: 32,
      device: 'cpu',
      seed: 1,
      workers: 1,
    };
    for (const preprocess of [undefined, 'fgvc'] as const) {
      const out = join(tmp.dir, `run-${preprocess ?? 'default'}`);
      const result = await train({ ...common, out, ...(preprocess ? { preprocess } : {}) });
      expect(result.epochs).toHaveLength(1);
      expect(Number.isFinite(result.epochs[0]!.train.loss)).toBe(true);
      const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as { preprocess?: string };
      expect(config.preprocess).toBe(preprocess ?? 'vtab');
    }
  });
});

describe('eval and predict on a VTAB-1k run', () => {
  it("evaluate takes the run's preprocessing (vtab); predict and evaluate take an explicit one", async () => {
    const root = join(tmp.dir, 'dtd-eval');
    await writeVtabTree(root);
    const prepared = await prepareDataset('vtab-dtd', root);
    const weights = await writeRandomBackbone(join(tmp.dir, 'backbone-eval'), {
      embedDim: 24,
      depth: 1,
      numHeads: 2,
      patchSize: 8,
      imgSize: 32,
      seed: 2,
    });
    const out = join(tmp.dir, 'run-eval');
    await train({
      data: prepared.out,
      weights,
      out,
      epochs: 1,
      warmupEpochs: 0,
      batchSize: 6,
      promptTokens: 2,
      cropSize: 32,
      device: 'cpu',
      seed: 1,
      workers: 1,
    });
    const checkpoint = join(out, 'best.safetensors');
    const fromRun = await evaluate({ run: out, split: 'test' });
    const vtab = await evaluate({ data: prepared.out, weights, checkpoint, split: 'test', preprocess: 'vtab' });
    const fgvc = await evaluate({ run: out, split: 'test', preprocess: 'fgvc' });
    expect(fromRun.loss).toBe(vtab.loss);
    expect(fgvc.loss).not.toBe(vtab.loss); // a center crop of a larger resize is another input
    const dataset = await openDataset(prepared.out);
    const images = dataset.splits.test!.slice(0, 3).map((s) => s.path);
    const [p1] = await predict({ weights, checkpoint, images, preprocess: 'vtab' });
    const [p2] = await predict({ weights, checkpoint, images });
    expect(p1!.top[0]!.prob).not.toBe(p2!.top[0]!.prob);
  });
});

describe('vpt-native train --preprocess', () => {
  async function parse(args: string[]): Promise<Record<string, unknown>> {
    const program = new Command().exitOverride();
    program.configureOutput({ writeErr: () => undefined });
    registerTrainCommand(program);
    let flags: Record<string, unknown> = {};
    program.commands
      .find((c) => c.name() === 'train')!
      .action((_parsed: unknown, cmd: Command) => {
        flags = commandLineFlags(cmd);
      });
    await program.parseAsync(['train', '--data', 'd', '--weights', 'w', '--out', 'o', ...args], { from: 'user' });
    return resolveTrainConfig((await resolveCliConfig(flags)).config);
  }

  it('sets preprocess; unset leaves it to the dataset; other values are usage errors', async () => {
    expect((await parse(['--preprocess', 'vtab'])).preprocess).toBe('vtab');
    expect((await parse(['--preprocess', 'fgvc'])).preprocess).toBe('fgvc');
    expect((await parse([])).preprocess).toBeUndefined();
    await expect(parse(['--preprocess', 'imagenet'])).rejects.toThrow(/Allowed choices are fgvc, vtab/);
  });
});
