/**
 * `SeededRandom`: reproducible random numbers for data order, augmentation, splits and synthetic
 * images. A generator is keyed by a list of integers (seed, epoch, sample index, ...), so every
 * decision can be recomputed on its own, independent of the order work happens in.
 *
 * The generator is sfc32 (Chris Doty-Humphrey's Small Fast Counting generator), its state
 * filled from the keys through the murmur3 finalizer.
 */

/** murmur3's 32-bit finalizer: a bijective mix of all input bits. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class SeededRandom {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  /**
   * @param keys non-negative safe integers; the same keys give the same sequence
   * @example
   * ```ts
   * const rng = new SeededRandom(seed, epoch);
   * rng.shuffle(order);
   * ```
   */
  constructor(...keys: number[]) {
    let h = 0x9e3779b9;
    for (const key of keys) {
      // Both 32-bit halves of a safe integer, so seeds above 2^32 are distinct too.
      h = fmix32(h ^ fmix32(key >>> 0));
      h = fmix32(h ^ fmix32(Math.floor(key / 2 ** 32) + 0x632be5ab));
    }
    this.#a = fmix32(h ^ 0x1b873593);
    this.#b = fmix32(h ^ 0xcc9e2d51);
    this.#c = fmix32(h ^ 0xe6546b64);
    this.#d = 1;
    for (let i = 0; i < 12; i++) this.#next32();
  }

  /** A uniform number in [0, 1). */
  next(): number {
    return this.#next32() / 2 ** 32;
  }

  /** A uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  #next32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }
}
