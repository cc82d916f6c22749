/**
 * The batches of a training epoch and the optimizer step on each: images uploaded one batch
 * ahead, or (without augmentation) cached features -- linear probing's backbone features, or
 * the prompt-free stem blocks' output -- from the cache once every image of the epoch is in it.
 */
import type { Sample } from '../data/dataset.js';
import type { Batch, Loader } from '../data/loader.js';
import type { Model, TrainStepResult } from '../model/model.js';
import type { StagedBatch } from '../model/staged-batch.js';
import type { CachedBatch, FeatureCache } from './feature-cache.js';
import { prefetchUploads } from './prefetch-uploads.js';

/** One training batch, by where its step's input comes from. */
export type TrainBatch =
  /** Cached backbone features. */
  | { kind: 'cached'; cached: CachedBatch }
  /** Images whose features are computed (and cached) at the step. */
  | { kind: 'features'; batch: Batch; cache: FeatureCache }
  /** Images, their upload to the device started one batch ahead. */
  | { kind: 'images'; batch: Batch & { staged: Promise<StagedBatch> } };

export class TrainBatches {
  /** Steps trained on cached features. */
  cachedFeatureSteps = 0;
  readonly #model: Model;
  readonly #loader: Loader;
  readonly #samples: Sample[];
  readonly #cache: FeatureCache | undefined;

  constructor(model: Model, loader: Loader, samples: Sample[], cache: FeatureCache | undefined) {
    this.#model = model;
    this.#loader = loader;
    this.#samples = samples;
    this.#cache = cache;
  }

  /** The batches of epoch `epoch`: from cached features when every one is cached, else from the loader. */
  async *epoch(epoch: number): AsyncGenerator<TrainBatch> {
    const model = this.#model,
      cache = this.#cache;
    if (cache) {
      const cached = this.#loader.batchOrder(epoch).map((members) => cache.batch(members, this.#samples));
      if (cached.every((b): b is CachedBatch => b !== undefined)) {
        for (const b of cached) yield { kind: 'cached', cached: b };
        return;
      }
      for await (const batch of this.#loader.epoch(epoch)) yield { kind: 'features', batch, cache };
      return;
    }
    // Batch k+1 is uploaded while step k runs.
    for await (const batch of prefetchUploads(model, this.#loader.epoch(epoch))) yield { kind: 'images', batch };
  }

  /** Forward, backward and optimizer step on one batch. */
  async step(b: TrainBatch): Promise<TrainStepResult> {
    const model = this.#model;
    switch (b.kind) {
      case 'cached':
        this.cachedFeatureSteps++;
        return this.#cache!.step(model, b.cached.features, b.cached.labels);
      case 'features':
        return b.cache.step(model, await b.cache.compute(model, b.batch), b.batch.labels);
      case 'images':
        return model.trainStep(await b.batch.staged, b.batch.labels);
    }
  }
}
