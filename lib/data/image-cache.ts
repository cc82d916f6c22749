/**
 * `ImageCache`: decoded, resized images kept in memory under a byte budget, so epochs after
 * the first decode nothing. Images are admitted until the budget is full and then kept (with a
 * shuffled order every epoch, evicting would only trade one miss for another).
 */
import type { DecodedImage } from './decode-image.js';

export class ImageCache {
  readonly #entries = new Map<string, DecodedImage>();
  readonly #budget: number;
  #bytes = 0;

  /** @param budgetBytes most pixel bytes held; 0 disables the cache */
  constructor(budgetBytes: number) {
    this.#budget = budgetBytes;
  }

  get(path: string): DecodedImage | undefined {
    return this.#entries.get(path);
  }

  /** Keeps `image` if the budget allows; returns whether it was kept. */
  add(path: string, image: DecodedImage): boolean {
    if (this.#entries.has(path)) return true;
    const size = image.data.byteLength;
    if (this.#bytes + size > this.#budget) return false;
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

  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
  }
}
