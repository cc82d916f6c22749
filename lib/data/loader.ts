/**
 * `Loader`: the batches of one split, for training or evaluation, prepared ahead so the model
 * never waits.
 *
 *   order      seeded shuffle of the samples, keyed by (seed, epoch)
 *   decode     each image decoded and its shorter side resized to R = resizeFor(cropSize)
 *              (decode-image.ts), `workers` at a time on the libuv thread pool, kept in the
 *              decoded-image cache (image-cache.ts, optionally a cache file)
 *   crop/flip  decided per image by a generator keyed by (seed, epoch, sample index), so a batch
 *              is the same whatever order the decodes finish in
 *   batch      uint8 (n, R, R, 3): each image's R x R window that holds its crop, with the crop's
 *              (top, left) inside the window; the model's device crops, flips and normalizes
 *
 * With `preprocess: 'vtab'` (VTAB-1k) each image is resized to exactly S x S (S = cropSize,
 * aspect not kept, PIL's bicubic filter) and the batch is (n, S, S, 3) with every crop at (0, 0)
 * and no flip, for training and evaluation alike: the device only normalizes.
 *
 * At most `prefetchBatches` batches are prepared ahead of the one the caller holds.
 */
import { availableParallelism } from 'node:os';
import { isAbsolute } from 'node:path';

import { z } from 'zod';
import { type Shard, shardBatch } from '../distributed/shard.js';
import { ErrorCode, VptError } from '../errors.js';
import { parseOptions } from '../util/validate.js';
import type { Sample } from './dataset.js';
import type { Preprocess } from './datasets/common.js';
import { type DecodedImage, decodeResized } from './decode-image.js';
import type { ImageBatchU8 } from './image-batch.js';
import { defaultCacheBudget, ImageCache } from './image-cache.js';
import { type CacheFileStatus, readImageCacheFile, writeImageCacheFile } from './image-cache-file.js';
import { SeededRandom } from './seeded-random.js';
import { decideCrop, resizeFor } from './vpt-transforms.js';

export type { ImageBatchU8 } from './image-batch.js';

/** One batch: images for the model, their labels, and their JSON keys. */
export interface Batch {
  images: ImageBatchU8;
  /** Class indices 0..C-1. */
  labels: Int32Array;
  keys: string[];
}

export interface LoaderOptions {
  batchSize: number;
  /** Random crop + horizontal flip (training) instead of the centre crop. */
  train: boolean;
  /** The model's image size; images are resized to resizeFor(cropSize) first (224 -> 256). */
  cropSize: number;
  /**
   * 'fgvc' (default): VPT's FGVC transforms (Resize(resizeFor(cropSize)) + RandomCrop + flip
   * when training, + CenterCrop otherwise). 'vtab': VTAB-1k's Resize((cropSize, cropSize),
   * BICUBIC), no crop, no flip, whatever `train` says (vpt-transforms.ts).
   */
  preprocess?: Preprocess;
  /** Shuffle every epoch (default: `train`). */
  shuffle?: boolean;
  /** Seed of the order and the augmentation (default 0). */
  seed?: number;
  /** Leave out the last, incomplete batch (default false). */
  dropLast?: boolean;
  /**
   * Images decoded at once, each on a libuv pool thread (default: `defaultDecodeWorkers()`,
   * twice the CPU count, so a core never waits while an image's next step is scheduled, at most
   * UV_THREADPOOL_SIZE - 1 so a model call always finds a pool thread; train() leaves two, for
   * the step and the next batch's upload). The pool has 4 threads unless UV_THREADPOOL_SIZE is
   * set before Node starts (the CLI sets it to the CPU count + 2); set it above the CPU count
   * to decode on every core.
   */
  workers?: number;
  /**
   * Memory for this loader's decoded images, in bytes (0: no cache). Default: one budget shared
   * by every Loader of the process that does not set it (image-cache.ts `defaultCacheBudget()`),
   * first come, first served: a quarter of the machine's memory, divided by LOCAL_WORLD_SIZE
   * when it is set (torchrun, `vpt-native train --nproc`), so train()'s train / val / test
   * loaders and a machine's data-parallel processes together stay within that quarter.
   */
  cacheBytes?: number;
  /** Persist the decoded images here (one file per dataset split and crop size). */
  cacheFile?: string;
  /** A missing, empty, truncated or non-image file: stop with an error (default) or leave it out. */
  onBadImage?: 'error' | 'skip';
  /** Batches prepared ahead (default 4). */
  prefetchBatches?: number;
  /**
   * Data-parallel training: this rank's equal, contiguous part of every batch (`batchSize` is the
   * global batch and must divide by `worldSize`; crops and flips stay those of the whole batch).
   */
  shard?: Shard;
}

/** A sample left out by `onBadImage: 'skip'`. */
export interface BadImage {
  key: string;
  path: string;
  reason: string;
}

export interface LoaderStats {
  /** Images decoded from their files. */
  decoded: number;
  /** Images served from the decoded-image cache. */
  cacheHits: number;
  cachedImages: number;
  cachedBytes: number;
  /** What the cache file held when first read; null without `cacheFile`. */
  cacheFile: CacheFileStatus | null;
  /** Images taken from the cache file. */
  cacheFileImages: number;
}

/** The libuv thread pool's size: UV_THREADPOOL_SIZE as libuv reads it at startup, else 4. */
function threadPoolSize(): number {
  const n = Number.parseInt(process.env.UV_THREADPOOL_SIZE ?? '', 10);
  return Number.isFinite(n) && n > 0 ? Math.min(n, 1024) : 4;
}

/**
 * Images decoded at once by default: twice the CPU count, leaving `reserved` libuv pool threads
 * for model calls (at least one decode).
 */
export function defaultDecodeWorkers(reserved = 1): number {
  return Math.max(1, Math.min(2 * availableParallelism(), threadPoolSize() - reserved));
}

const optionsSchema = z.strictObject({
  batchSize: z.number().int().min(1),
  train: z.boolean(),
  cropSize: z.number().int().min(1).max(8192),
  preprocess: z.enum(['fgvc', 'vtab']).default('fgvc'),
  shuffle: z.boolean().optional(),
  seed: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
  dropLast: z.boolean().default(false),
  workers: z.number().int().min(1).max(1024).optional(),
  cacheBytes: z.number().int().min(0).optional(),
  cacheFile: z.string().min(1).optional(),
  onBadImage: z.enum(['error', 'skip']).default('error'),
  prefetchBatches: z.number().int().min(1).max(64).default(4),
  shard: z.strictObject({ rank: z.number().int().min(0), worldSize: z.number().int().min(1) }).optional(),
});

/** FIFO slots: at most `n` holders at a time, served in the order they asked. */
class Slots {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(n: number) {
    this.#free = n;
  }

  async acquire(): Promise<void> {
    if (this.#free > 0) {
      this.#free--;
      return;
    }
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#free++;
  }
}

function checkSamples(samples: Sample[]): void {
  if (!Array.isArray(samples) || samples.length === 0) {
    throw new VptError(
      ErrorCode.Option,
      'Invalid option "samples": expected a non-empty array of { key, path, label }',
    );
  }
  samples.forEach((s, i) => {
    const ok =
      s !== null &&
      typeof s === 'object' &&
      typeof s.key === 'string' &&
      typeof s.path === 'string' &&
      isAbsolute(s.path) &&
      Number.isSafeInteger(s.label) &&
      s.label >= 0;
    if (!ok)
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "samples[${i}]": expected { key, path (absolute), label (integer >= 0) }`,
      );
  });
}

/** Copies the R x R window at (top, left) of `image` into slot `k` of an (n, R, R, 3) batch. */
function copyWindow(image: DecodedImage, top: number, left: number, R: number, pixels: Uint8Array, k: number): void {
  const row = R * 3;
  for (let y = 0; y < R; y++) {
    const from = ((top + y) * image.width + left) * 3;
    pixels.set(image.data.subarray(from, from + row), (k * R + y) * row);
  }
}

export class Loader {
  /** Batches one epoch yields (fewer when `onBadImage: 'skip'` empties one). */
  readonly batchesPerEpoch: number;
  readonly #samples: Sample[];
  readonly #o: z.output<typeof optionsSchema> & { shuffle: boolean; workers: number };
  readonly #resize: number;
  readonly #cache: ImageCache;
  readonly #slots: Slots;
  readonly #bad = new Map<number, string>();
  readonly #inflight = new Set<Promise<unknown>>();
  readonly #stats: LoaderStats;
  #cacheFileRead: Promise<void> | undefined;
  #cacheDirty = false;
  #closed = false;

  /**
   * @param samples a split of a dataset (`openDataset(root).splits.train`)
   * @example
   * ```ts
   * const data = await openDataset('data/CUB_200_2011');
   * const loader = new Loader(data.splits.train!, { batchSize: 64, train: true, cropSize: 224, dropLast: true });
   * for await (const { images, labels } of loader.epoch(0)) await model.trainStep(images, labels);
   * await loader.close();
   * ```
   */
  constructor(samples: Sample[], options: LoaderOptions) {
    const o = parseOptions(optionsSchema, options, 'Loader');
    checkSamples(samples);
    const workers = o.workers ?? defaultDecodeWorkers();
    this.#o = { ...o, shuffle: o.shuffle ?? o.train, workers };
    this.#samples = [...samples];
    this.#resize = o.preprocess === 'vtab' ? o.cropSize : resizeFor(o.cropSize);
    this.#cache = new ImageCache(o.cacheBytes ?? defaultCacheBudget());
    this.#slots = new Slots(workers);
    this.#stats = { decoded: 0, cacheHits: 0, cachedImages: 0, cachedBytes: 0, cacheFile: null, cacheFileImages: 0 };
    const n = this.#samples.length;
    if (o.dropLast && n < o.batchSize) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "batchSize": ${o.batchSize} is more than the ${n} samples, so dropLast would leave no batch`,
      );
    }
    this.batchesPerEpoch = o.dropLast ? Math.floor(n / o.batchSize) : Math.ceil(n / o.batchSize);
    if (o.shard) {
      const { rank, worldSize } = o.shard;
      if (rank >= worldSize)
        throw new VptError(ErrorCode.Option, `Invalid option "shard": rank ${rank} of a world of ${worldSize}`);
      if (o.batchSize % worldSize !== 0 || !(o.dropLast || n % o.batchSize === 0)) {
        throw new VptError(
          ErrorCode.Option,
          `Invalid option "batchSize": the global batch ${o.batchSize} must divide evenly over ${worldSize} ranks, with dropLast unless it divides the ${n} samples`,
        );
      }
    }
  }

  /**
   * The batches of epoch `index`; the same (seed, index) gives the same batches, crops and flips.
   * @throws VptError (VPT_DATA) for a bad image under `onBadImage: 'error'`, naming the file and its JSON key
   */
  epoch(index: number): AsyncIterable<Batch> {
    if (!(Number.isSafeInteger(index) && index >= 0)) {
      throw new VptError(ErrorCode.Option, `Invalid option "epoch": expected an integer >= 0, got ${String(index)}`);
    }
    this.#alive();
    return this.#batches(index);
  }

  /** Samples left out so far by `onBadImage: 'skip'`. */
  get skipped(): number {
    return this.#bad.size;
  }

  /** The samples left out so far, with the reason. */
  get badImages(): BadImage[] {
    return [...this.#bad].map(([i, reason]) => ({ key: this.#samples[i]!.key, path: this.#samples[i]!.path, reason }));
  }

  /** Decode and cache counters. */
  get stats(): LoaderStats {
    return { ...this.#stats, cachedImages: this.#cache.size, cachedBytes: this.#cache.bytes };
  }

  /** Stops decoding, waits for decodes in flight, frees the cache. Later `epoch` calls throw VPT_DISPOSED. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#inflight]);
    this.#cache.clear();
  }

  /**
   * The sample indices of each batch of `epoch`, in order, without decoding anything (what
   * `epoch(index)` yields, before any bad-image skips).
   */
  batchOrder(epoch: number): number[][] {
    const order = this.#samples.map((_, i) => i);
    if (this.#o.shuffle) new SeededRandom(this.#o.seed, epoch).shuffle(order);
    const B = this.#o.batchSize;
    const batches = Array.from({ length: this.batchesPerEpoch }, (_, b) => order.slice(b * B, (b + 1) * B));
    const shard = this.#o.shard;
    return shard ? batches.map((batch) => shardBatch(batch, shard)) : batches;
  }

  async *#batches(epoch: number): AsyncGenerator<Batch> {
    await this.#readCacheFile();
    const batches = this.batchOrder(epoch);
    const cancel = { cancelled: false };
    const pending: Array<Promise<Batch | null>> = [];
    let next = 0;
    const refill = (): void => {
      while (next < this.batchesPerEpoch && pending.length < this.#o.prefetchBatches) {
        const batch = this.#assemble(batches[next]!, epoch, cancel);
        batch.catch(() => undefined); // awaited in turn below; this only keeps an early failure from being unhandled
        pending.push(batch);
        next++;
      }
    };
    let finished = false;
    try {
      refill();
      while (pending.length > 0) {
        const batch = await pending.shift()!;
        refill();
        if (batch) yield batch;
      }
      finished = true;
    } finally {
      cancel.cancelled = true;
      await Promise.allSettled(pending);
    }
    if (finished) await this.#writeCacheFile();
  }

  async #assemble(members: number[], epoch: number, cancel: { cancelled: boolean }): Promise<Batch | null> {
    const decoded = await Promise.all(members.map((i) => this.#image(i, cancel)));
    const kept = members.flatMap((i, k) => (decoded[k] ? [{ i, image: decoded[k] }] : []));
    if (kept.length === 0 || cancel.cancelled) return null;
    const n = kept.length;
    const R = this.#resize;
    const S = this.#o.cropSize;
    const pixels = new Uint8Array(n * R * R * 3);
    const crops = new Int32Array(2 * n);
    const flips = new Uint8Array(n);
    const labels = new Int32Array(n);
    const keys: string[] = [];
    const vtab = this.#o.preprocess === 'vtab';
    kept.forEach(({ i, image }, k) => {
      const crop = vtab
        ? { top: 0, left: 0, flip: false }
        : decideCrop(image.width, image.height, S, this.#o.train, new SeededRandom(this.#o.seed, epoch, i));
      const top = Math.min(crop.top, image.height - R);
      const left = Math.min(crop.left, image.width - R);
      copyWindow(image, top, left, R, pixels, k);
      crops[2 * k] = crop.top - top;
      crops[2 * k + 1] = crop.left - left;
      flips[k] = crop.flip ? 1 : 0;
      labels[k] = this.#samples[i]!.label;
      keys.push(this.#samples[i]!.key);
    });
    return { images: { pixels, shape: [n, R, R, 3], crops, flips, cropSize: S }, labels, keys };
  }

  /** The resized image of sample `i`: from the cache, else decoded; null when skipped or cancelled. */
  async #image(i: number, cancel: { cancelled: boolean }): Promise<DecodedImage | null> {
    if (this.#bad.has(i)) return null;
    const sample = this.#samples[i]!;
    const hit = this.#cache.get(sample.path);
    if (hit) {
      this.#stats.cacheHits++;
      return hit;
    }
    await this.#slots.acquire();
    const work = this.#decode(i, sample, cancel).finally(() => this.#slots.release());
    this.#inflight.add(work);
    return work.finally(() => this.#inflight.delete(work));
  }

  async #decode(i: number, sample: Sample, cancel: { cancelled: boolean }): Promise<DecodedImage | null> {
    if (cancel.cancelled || this.#closed) return null;
    try {
      const image = await decodeResized(sample.path, this.#resize, { fit: this.#fit });
      this.#stats.decoded++;
      if (this.#cache.add(sample.path, image)) this.#cacheDirty = true;
      return image;
    } catch (error) {
      if (!(error instanceof VptError) || error.code !== ErrorCode.Data) throw error;
      if (this.#o.onBadImage === 'skip') {
        this.#bad.set(i, error.message);
        return null;
      }
      throw new VptError(
        ErrorCode.Data,
        `${error.message} [JSON entry "${sample.key}"]; onBadImage: 'skip' leaves such images out`,
        { cause: error },
      );
    }
  }

  async #readCacheFile(): Promise<void> {
    const file = this.#o.cacheFile;
    if (!file) return;
    this.#cacheFileRead ??= (async () => {
      const wanted = new Set(this.#samples.map((s) => s.path));
      const r = await readImageCacheFile(
        file,
        this.#resize,
        wanted,
        (path, image) => this.#cache.add(path, image),
        this.#fit,
      );
      this.#stats.cacheFile = r.status;
      this.#stats.cacheFileImages = r.admitted;
    })();
    await this.#cacheFileRead;
  }

  async #writeCacheFile(): Promise<void> {
    if (!this.#o.cacheFile || !this.#cacheDirty || this.#closed) return;
    this.#cacheDirty = false;
    await writeImageCacheFile(this.#o.cacheFile, this.#resize, this.#cache.entries(), this.#fit);
  }

  /** How images are resized: shorter side (FGVC) or exactly S x S (VTAB). */
  get #fit(): 'shorter' | 'fill' {
    return this.#o.preprocess === 'vtab' ? 'fill' : 'shorter';
  }

  #alive(): void {
    if (this.#closed) throw new VptError(ErrorCode.Disposed, 'the loader was closed');
  }
}

/**
 * Creates a `Loader` (the same as `new Loader(samples, options)`).
 * @example
 * ```ts
 * const val = createLoader(data.splits.val!, { batchSize: 128, train: false, cropSize: 224 });
 * ```
 */
export function createLoader(samples: Sample[], options: LoaderOptions): Loader {
  return new Loader(samples, options);
}
