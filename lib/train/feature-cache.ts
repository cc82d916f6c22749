/**
 * Per-image model inputs that never change while training without augmentation: the backbone
 * features of linear probing ('head': the head trains on them), or the output of the frozen,
 * prompt-free blocks below the prompts ('stem': prompts in the last k blocks only).
 */
import type { Sample } from '../data/dataset.js';
import type { Batch } from '../data/loader.js';
import type { Model, TrainStepResult } from '../model/model.js';

/** A batch made of cached features. */
export interface CachedBatch {
  features: Float32Array;
  labels: Int32Array;
}

export class FeatureCache {
  readonly #features = new Map<number, Float32Array>();
  readonly #index: Map<string, number>;
  /** 'head': pooled backbone features (n x D); 'stem': the stem blocks' output (n x T x D). */
  readonly kind: 'head' | 'stem';

  constructor(samples: Sample[], kind: 'head' | 'stem' = 'head') {
    this.#index = new Map(samples.map((s, i) => [s.key, i]));
    this.kind = kind;
  }

  /** Features and labels of batch `members` when every member is cached. */
  batch(members: number[], samples: Sample[]): CachedBatch | undefined {
    if (!members.every((i) => this.#features.has(i))) return undefined;
    const dim = this.#features.get(members[0]!)!.length;
    const features = new Float32Array(members.length * dim);
    for (const [k, i] of members.entries()) features.set(this.#features.get(i)!, k * dim);
    return { features, labels: Int32Array.from(members, (i) => samples[i]!.label) };
  }

  /** Computes the batch's features, caches them per image, returns them. */
  async compute(model: Model, batch: Batch): Promise<Float32Array> {
    const n = batch.labels.length;
    const features = this.kind === 'stem' ? await model.stemFeatures(batch.images) : await model.features(batch.images);
    const dim = features.length / n;
    for (const [k, key] of batch.keys.entries())
      this.#features.set(this.#index.get(key)!, features.slice(k * dim, (k + 1) * dim));
    return features;
  }

  /** The training step on features this cache holds (or computed). */
  step(model: Model, features: Float32Array, labels: Int32Array): Promise<TrainStepResult> {
    return this.kind === 'stem' ? model.trainStepStem(features, labels) : model.trainStepFeatures(features, labels);
  }
}
