/**
 * `StagedBatch`: a loader's uint8 batch that a model has already copied to its device
 * (`model.upload`). On CUDA the copy goes through pinned memory on a separate stream, so the
 * next batch's upload overlaps the current step. A staged batch is a `ModelInput`: every batch
 * method of the model that uploaded it takes it (`forward` and `features` read its host copy).
 */
import type { NativeStagedBatch } from '../binding.js';
import type { ImageBatchU8 } from '../data/image-batch.js';

export class StagedBatch {
  /** @internal */
  readonly native: NativeStagedBatch;
  /** The host batch it was made from (shape, crops and flips; its pixels are not read again on CUDA). */
  readonly batch: ImageBatchU8;
  /** @internal */
  readonly owner: object;
  #disposed = false;

  /** @internal use `model.upload(batch)` */
  constructor(native: NativeStagedBatch, batch: ImageBatchU8, owner: object) {
    this.native = native;
    this.batch = batch;
    this.owner = owner;
  }

  /** Images in the batch. */
  get size(): number {
    return this.batch.shape[0];
  }

  /** Frees the device copy now instead of when the object is garbage-collected. */
  dispose(): void {
    this.#disposed = true;
    this.native.dispose();
  }

  /** True once `dispose()` was called: model calls given this batch throw VPT_DISPOSED. */
  get disposed(): boolean {
    return this.#disposed;
  }
}
