/** Backbone features of the training images (linear probing without augmentation: they never change). */
import type { Sample } from '../data/dataset.js';
import type { Batch } from '../data/loader.js';
import type { Model } from '../model/model.js';

/** A batch made of cached features. */
export interface CachedBatch {
  features: Float32Array;
  labels: Int32Array;
}

export class FeatureCache {
  readonly #features = new Map<number, Float32Array>();
  readonly #index: Map<string, number>;

  constructor(samples: Sample[]) {
    this.#index = new Map(samples.map((s, i) => [s.key, i]));
  }

  /** Features and labels of batch `members` when every member is cached. */
  batch(members: number[], samples: Sample[], dim: number): CachedBatch | undefined {
    if (!members.every((i) => this.#features.has(i))) return undefined;
    const features = new Float32Array(members.length * dim);
    for (const [k, i] of members.entries()) features.set(this.#features.get(i)!, k * dim);
    return { features, labels: Int32Array.from(members, (i) => samples[i]!.label) };
  }

  /** Computes the batch's features, caches them per image, returns them. */
  async compute(model: Model, batch: Batch): Promise<Float32Array> {
    const n = batch.labels.length;
    const features = await model.features(batch.images);
    const dim = features.length / n;
    for (const [k, key] of batch.keys.entries())
      this.#features.set(this.#index.get(key)!, features.slice(k * dim, (k + 1) * dim));
    return features;
  }
}
