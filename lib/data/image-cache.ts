/**
 * `ImageCache`: decoded, resized images kept in memory under a byte budget, so epochs after
 * the first decode nothing. Images are admitted until the budget is full and then kept (with a
 * shuffled order every epoch, evicting would only trade one miss for another).
 *
 * A `CacheBudget` may be shared: caches built without their own size draw from one
 * process-wide budget (`defaultCacheBudget()`), so train()'s train / val / test loaders, and the
 * several data-parallel processes of one machine, together hold at most a quarter of its memory.
 */
import { totalmem } from 'node:os';

import type { DecodedImage } from './decode-image.js';

/** Bytes that one or more caches draw from; what one holds, the others cannot. */
export class CacheBudget {
  /** The most bytes held by all the caches drawing from this budget. */
  readonly bytes: number;
  #used = 0;

  constructor(bytes: number) {
    this.bytes = bytes;
  }

  /** Reserves `n` bytes if they fit; returns whether they did. */
  take(n: number): boolean {
    if (this.#used + n > this.bytes) return false;
    this.#used += n;
    return true;
  }

  /** Returns `n` reserved bytes. */
  give(n: number): void {
    this.#used -= n;
  }

  /** Bytes reserved now. */
  get used(): number {
    return this.#used;
  }
}

/**
 * Processes of one data-parallel job on this machine: LOCAL_WORLD_SIZE as torchrun and
 * `vpt-native train --nproc` set it (lib/distributed/environment.ts), else 1. A malformed value
 * counts as 1 here; distributedFromEnv() reports it.
 */
function processesOnThisMachine(env: NodeJS.ProcessEnv): number {
  const n = Number(env.LOCAL_WORLD_SIZE);
  return Number.isSafeInteger(n) && n >= 1 ? n : 1;
}

/** The default budget's size: a quarter of the machine's memory, shared by its data-parallel processes. */
export function defaultCacheBytes(env: NodeJS.ProcessEnv = process.env, memory = totalmem()): number {
  return Math.floor(memory / 4 / processesOnThisMachine(env));
}

let processBudget: CacheBudget | undefined;

/** The process-wide budget of every cache built without its own size (created on first use). */
export function defaultCacheBudget(): CacheBudget {
  processBudget ??= new CacheBudget(defaultCacheBytes());
  return processBudget;
}

/**
 * Replaces the process-wide budget for caches built from now on (`bytes`; undefined: back to
 * `defaultCacheBytes()` on next use). Caches built before keep drawing from the old one.
 * @example
 * ```ts
 * setDefaultCacheBudget(8 * 2 ** 30); // every default Loader together: at most 8 GiB
 * ```
 */
export function setDefaultCacheBudget(bytes: number | undefined): void {
  processBudget = bytes === undefined ? undefined : new CacheBudget(bytes);
}

export class ImageCache {
  readonly #entries = new Map<string, DecodedImage>();
  readonly #budget: CacheBudget;
  #bytes = 0;

  /** @param budget most pixel bytes held (0 disables the cache), or a budget shared with other caches */
  constructor(budget: number | CacheBudget) {
    this.#budget = typeof budget === 'number' ? new CacheBudget(budget) : budget;
  }

  get(path: string): DecodedImage | undefined {
    return this.#entries.get(path);
  }

  /** Keeps `image` if the budget allows; returns whether it was kept. */
  add(path: string, image: DecodedImage): boolean {
    if (this.#entries.has(path)) return true;
    const size = image.data.byteLength;
    if (!this.#budget.take(size)) return false;
    this.#entries.set(path, image);
    this.#bytes += size;
    return true;
  }

  /** Bytes of pixels held. */
  get bytes(): number {
    return this.#bytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  entries(): IterableIterator<[string, DecodedImage]> {
    return this.#entries.entries();
  }

  /** Drops every image and returns its bytes to the budget. */
  clear(): void {
    this.#entries.clear();
    this.#budget.give(this.#bytes);
    this.#bytes = 0;
  }
}
