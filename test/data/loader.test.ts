/**
 * The loader: deterministic order and augmentation for a seed, every sample once per epoch,
 * dropLast, batch layout, bad-image policies, the decoded-image cache (memory and file; one
 * process-wide budget for the loaders without `cacheBytes`), bounded prefetch, lifecycle.
 */
import { copyFile, readFile, truncate, utimes, writeFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultCacheBudget, defaultCacheBytes, setDefaultCacheBudget } from '../../lib/data/image-cache.js';
import {
  type Batch,
  type Dataset,
  Loader,
  type LoaderOptions,
  openDataset,
  resizeFor,
  type Sample,
} from '../../lib/index.js';
import { tempDir } from '../helpers/common.js';
import { fingerprint, synthDataset } from '../helpers/data.js';

let tmp: Awaited<ReturnType<typeof tempDir>>;
let data: Dataset;
let train: Sample[];

beforeAll(async () => {
  tmp = await tempDir();
  data = await synthDataset(join(tmp.dir, 'synth'), {
    classes: 4,
    imagesPerClass: 6,
    imageSize: 48,
    trainFraction: 0.5,
  });
  train = [...data.splits.train!, ...data.splits.val!]; // 24 images
});
afterAll(async () => {
  await tmp.cleanup();
});

const base: LoaderOptions = { batchSize: 5, train: true, cropSize: 32, workers: 2 };

async function collect(loader: Loader, epoch: number): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of loader.epoch(epoch)) out.push(b);
  return out;
}

/** Everything that identifies a batch's content. */
function summary(batches: Batch[]) {
  return batches.map((b) => ({
    keys: b.keys,
    labels: Array.from(b.labels),
    crops: Array.from(b.images.crops),
    flips: Array.from(b.images.flips),
    shape: b.images.shape,
    pixels: fingerprint(b.images.pixels),
  }));
}

describe('order and augmentation', () => {
  it('are identical for the same (seed, epoch), and differ across seeds and epochs', async () => {
    const a = new Loader(train, { ...base, seed: 3 });
    const b = new Loader(train, { ...base, seed: 3, workers: 1, prefetchBatches: 1 });
    const c = new Loader(train, { ...base, seed: 4 });
    const [a0, b0, c0, a1] = [
      summary(await collect(a, 0)),
      summary(await collect(b, 0)),
      summary(await collect(c, 0)),
      summary(await collect(a, 1)),
    ];
    expect(b0).toEqual(a0);
    expect(c0.map((x) => x.keys)).not.toEqual(a0.map((x) => x.keys));
    expect(a1.map((x) => x.keys)).not.toEqual(a0.map((x) => x.keys));
    expect(summary(await collect(a, 0))).toEqual(a0); // an epoch can be replayed
    for (const l of [a, b, c]) await l.close();
  });

  it('random crops and flips vary within [0, R - S]; eval crops are centred and unflipped', async () => {
    const R = resizeFor(32);
    expect(R).toBe(36);
    const loader = new Loader(train, { ...base, seed: 1 });
    const batches = await collect(loader, 0);
    const crops = batches.flatMap((b) => Array.from(b.images.crops));
    const flips = batches.flatMap((b) => Array.from(b.images.flips));
    expect(batches[0]!.images.shape).toEqual([5, R, R, 3]);
    expect(batches[0]!.images.cropSize).toBe(32);
    expect(crops.every((v) => v >= 0 && v <= R - 32)).toBe(true);
    expect(new Set(crops).size).toBeGreaterThan(2);
    expect(new Set(flips)).toEqual(new Set([0, 1]));
    await loader.close();

    const evalLoader = new Loader(train, { ...base, train: false });
    const evalBatches = await collect(evalLoader, 0);
    expect(evalBatches.flatMap((b) => b.keys)).toEqual(train.map((s) => s.key)); // not shuffled
    expect(evalBatches.flatMap((b) => Array.from(b.images.crops)).every((v) => v === 2)).toBe(true); // (36 - 32) / 2
    expect(evalBatches.flatMap((b) => Array.from(b.images.flips)).every((v) => v === 0)).toBe(true);
    await evalLoader.close();
  });
});

describe('epochs', () => {
  it('yield every sample exactly once, with its label', async () => {
    const loader = new Loader(train, { ...base, seed: 9 });
    expect(loader.batchesPerEpoch).toBe(5);
    for (const epoch of [0, 1, 2]) {
      const batches = await collect(loader, epoch);
      expect(batches.map((b) => b.keys.length)).toEqual([5, 5, 5, 5, 4]);
      const keys = batches.flatMap((b) => b.keys);
      expect([...keys].sort()).toEqual(train.map((s) => s.key).sort());
      const labelOf = new Map(train.map((s) => [s.key, s.label]));
      for (const b of batches) for (const [i, k] of b.keys.entries()) expect(b.labels[i]).toBe(labelOf.get(k));
    }
    await loader.close();
  });

  it('dropLast leaves out the incomplete batch, never a sample twice', async () => {
    const loader = new Loader(train, { ...base, seed: 9, dropLast: true });
    expect(loader.batchesPerEpoch).toBe(4);
    const keys = (await collect(loader, 0)).flatMap((b) => b.keys);
    expect(keys).toHaveLength(20);
    expect(new Set(keys).size).toBe(20);
    await loader.close();
  });

  it('can be left early and started again', async () => {
    const loader = new Loader(train, { ...base, seed: 2 });
    const full = summary(await collect(loader, 5));
    for await (const b of loader.epoch(5)) {
      expect(b.keys).toEqual(full[0]!.keys);
      break;
    }
    expect(summary(await collect(loader, 5))).toEqual(full);
    await loader.close();
    expect(() => loader.epoch(0)).toThrow(expect.objectContaining({ code: 'VPT_DISPOSED' }));
  });

  it('prepares at most prefetchBatches ahead of the batch being used', async () => {
    const loader = new Loader(train, { ...base, batchSize: 2, cacheBytes: 0, prefetchBatches: 1, workers: 1 });
    let seen = 0;
    for await (const b of loader.epoch(0)) {
      expect(b.keys).toHaveLength(2);
      await new Promise((r) => setTimeout(r, 30));
      seen += 2;
      expect(loader.stats.decoded).toBeLessThanOrEqual(seen + 2);
    }
    await loader.close();
  });

  it('keeps the event loop free while it decodes', async () => {
    const loader = new Loader(train, { ...base, cacheBytes: 0 });
    let last = performance.now(),
      worst = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worst = Math.max(worst, now - last);
      last = now;
    }, 2);
    for (const epoch of [0, 1]) await collect(loader, epoch);
    clearInterval(timer);
    expect(loader.stats.decoded).toBe(48);
    expect(worst).toBeLessThan(100);
    await loader.close();
  });

  it('names misspelled and invalid options', () => {
    expect(() => new Loader(train, { ...base, batchsize: 4 } as never)).toThrow(
      expect.objectContaining({ code: 'VPT_OPTION', message: expect.stringContaining('did you mean "batchSize"') }),
    );
    expect(() => new Loader(train, { ...base, onBadImage: 'ignore' as never })).toThrow(
      expect.objectContaining({ code: 'VPT_OPTION', message: expect.stringContaining('"onBadImage"') }),
    );
    expect(() => new Loader([], base)).toThrow(expect.objectContaining({ code: 'VPT_OPTION' }));
    expect(() => new Loader([{ key: 'a', path: 'relative.jpg', label: 0 }], base)).toThrow(
      expect.objectContaining({ message: expect.stringContaining('samples[0]') }),
    );
    expect(() => new Loader(train, { ...base, batchSize: 25, dropLast: true })).toThrow(
      expect.objectContaining({
        code: 'VPT_OPTION',
        message: expect.stringContaining('dropLast would leave no batch'),
      }),
    );
  });
});

describe('bad images', () => {
  let bad: Sample[];
  beforeAll(async () => {
    const dir = join(tmp.dir, 'synth');
    const src = train[0]!.path;
    const truncated = join(dir, 'images', 'truncated.jpg');
    await copyFile(src, truncated);
    await truncate(truncated, Math.floor((await readFile(src)).length / 2));
    await writeFile(join(dir, 'images', 'empty.jpg'), '');
    await writeFile(join(dir, 'images', 'text.jpg'), 'this is not an image');
    await writeFile(
      join(dir, 'val.json'),
      JSON.stringify({
        ...Object.fromEntries(data.splits.val!.map((s) => [s.key, data.classIds[s.label]])),
        'missing.jpg': 1,
        'empty.jpg': 1,
        'truncated.jpg': 2,
        'text.jpg': 2,
      }),
    );
    bad = (await openDataset(dir)).splits.val!;
  });

  it("'error' (the default) stops with the file and its JSON entry", async () => {
    const cases: Array<[string, string]> = [
      ['missing.jpg', 'file not found'],
      ['empty.jpg', 'empty file'],
      ['truncated.jpg', 'cannot decode'],
      ['text.jpg', 'cannot decode'],
    ];
    for (const [key, reason] of cases) {
      const sample = bad.find((s) => s.key === key)!;
      const loader = new Loader([bad[0]!, sample], { ...base, train: false });
      await expect(collect(loader, 0)).rejects.toMatchObject({
        code: 'VPT_DATA',
        message: expect.stringMatching(
          new RegExp(
            `^bad image ${sample.path.replace(/[.]/g, '\\.')}: ${reason}.*\\[JSON entry "${key.replace('.', '\\.')}"\\]; onBadImage: 'skip'`,
          ),
        ),
      });
      await loader.close();
    }
  });

  it("'skip' leaves them out, counts them, and does not retry them", async () => {
    const loader = new Loader(bad, { ...base, train: false, onBadImage: 'skip' });
    const keys = (await collect(loader, 0)).flatMap((b) => b.keys);
    expect(keys).toEqual(
      bad.map((s) => s.key).filter((k) => !['missing.jpg', 'empty.jpg', 'truncated.jpg', 'text.jpg'].includes(k)),
    );
    expect(loader.skipped).toBe(4);
    expect(loader.badImages.map((b) => b.key).sort()).toEqual([
      'empty.jpg',
      'missing.jpg',
      'text.jpg',
      'truncated.jpg',
    ]);
    expect(loader.badImages.every((b) => b.reason.startsWith(`bad image ${b.path}`))).toBe(true);
    const decoded = loader.stats.decoded;
    await collect(loader, 1);
    expect(loader.stats.decoded).toBe(decoded);
    expect(loader.skipped).toBe(4);
    await loader.close();
  });
});

describe('decoded-image cache', () => {
  it('serves later epochs from memory without decoding', async () => {
    const loader = new Loader(train, base);
    await collect(loader, 0);
    expect(loader.stats).toMatchObject({ decoded: 24, cacheHits: 0, cachedImages: 24, cachedBytes: 24 * 36 * 36 * 3 });
    await collect(loader, 1);
    expect(loader.stats).toMatchObject({ decoded: 24, cacheHits: 24 });
    await loader.close();

    const bounded = new Loader(train, { ...base, cacheBytes: 10 * 36 * 36 * 3 });
    await collect(bounded, 0);
    await collect(bounded, 1);
    expect(bounded.stats).toMatchObject({ decoded: 24 + 14, cacheHits: 10, cachedImages: 10 });
    await bounded.close();
  });

  it('persists to a cache file that a new loader reads instead of decoding, until a source changes', async () => {
    const file = join(tmp.dir, 'cache', 'train-36.vptcache');
    const first = new Loader(train, { ...base, seed: 5, cacheFile: file });
    const epoch0 = summary(await collect(first, 0));
    expect(first.stats).toMatchObject({ decoded: 24, cacheFile: 'absent' });
    await first.close();

    const second = new Loader(train, { ...base, seed: 5, cacheFile: file });
    expect(summary(await collect(second, 0))).toEqual(epoch0);
    expect(second.stats).toMatchObject({ decoded: 0, cacheHits: 24, cacheFile: 'loaded', cacheFileImages: 24 });
    await second.close();

    const changed = train[3]!.path;
    await utimes(changed, new Date(), new Date(Date.now() + 5000));
    const third = new Loader(train, { ...base, seed: 5, cacheFile: file });
    await collect(third, 0);
    expect(third.stats).toMatchObject({ decoded: 1, cacheFileImages: 23 });
    await third.close();

    const otherSize = new Loader(train, { ...base, cropSize: 40, cacheFile: file });
    await collect(otherSize, 0);
    expect(otherSize.stats).toMatchObject({ decoded: 24, cacheFile: 'other-resize' });
    await otherSize.close();

    await writeFile(file, 'garbage');
    const corrupt = new Loader(train, { ...base, cacheFile: file });
    await collect(corrupt, 0);
    expect(corrupt.stats).toMatchObject({ decoded: 24, cacheFile: 'unreadable' });
    await corrupt.close();
  });
});

describe('the default cache budget is one per process', () => {
  const IMAGE = 36 * 36 * 3;

  it('loaders without cacheBytes together hold at most the shared budget; explicit cacheBytes is their own', async () => {
    setDefaultCacheBudget(10 * IMAGE);
    try {
      const a = new Loader(train, base);
      const b = new Loader(train, { ...base, train: false });
      await collect(a, 0);
      await collect(b, 0);
      expect(a.stats.cachedBytes + b.stats.cachedBytes).toBe(10 * IMAGE);
      expect(b.stats.cachedImages).toBe(0); // first come, first served
      expect(defaultCacheBudget().used).toBe(10 * IMAGE);

      const own = new Loader(train, { ...base, cacheBytes: 24 * IMAGE });
      await collect(own, 0);
      expect(own.stats.cachedImages).toBe(24);
      expect(defaultCacheBudget().used).toBe(10 * IMAGE);

      await a.close(); // its bytes go back to the budget, for b
      expect(defaultCacheBudget().used).toBe(0);
      await collect(b, 1);
      expect(b.stats.cachedBytes).toBe(10 * IMAGE);
      for (const l of [b, own]) await l.close();
      expect(defaultCacheBudget().used).toBe(0);
    } finally {
      setDefaultCacheBudget(undefined);
    }
  });

  it('is a quarter of the memory, divided by LOCAL_WORLD_SIZE', () => {
    const GiB = 2 ** 30;
    expect(defaultCacheBytes({}, 16 * GiB)).toBe(4 * GiB);
    expect(defaultCacheBytes({ LOCAL_WORLD_SIZE: '4' }, 16 * GiB)).toBe(GiB);
    expect(defaultCacheBytes({ LOCAL_WORLD_SIZE: 'two' }, 16 * GiB)).toBe(4 * GiB);
    const saved = process.env.LOCAL_WORLD_SIZE;
    process.env.LOCAL_WORLD_SIZE = '3';
    try {
      setDefaultCacheBudget(undefined);
      expect(defaultCacheBudget().bytes).toBe(Math.floor(totalmem() / 4 / 3));
    } finally {
      if (saved === undefined) delete process.env.LOCAL_WORLD_SIZE;
      else process.env.LOCAL_WORLD_SIZE = saved;
      setDefaultCacheBudget(undefined);
    }
  });
});
