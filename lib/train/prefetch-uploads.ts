/**
 * Batches with their device upload started one batch ahead: while the caller trains or
 * evaluates on batch k, batch k+1 is taken from the loader and copied to the device (pinned
 * memory and a separate stream on CUDA; see `Model.upload`), so the copy overlaps the step.
 */
import type { ImageBatchU8 } from '../data/image-batch.js';
import type { Model } from '../model/model.js';
import type { StagedBatch } from '../model/staged-batch.js';

/** Marks `p` as handled (its rejection surfaces where it is awaited) and returns it. */
function handled<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

export async function* prefetchUploads<T extends { images: ImageBatchU8 }>(
  model: Model,
  source: AsyncIterable<T>,
): AsyncGenerator<T & { staged: Promise<StagedBatch> }> {
  const it = source[Symbol.asyncIterator]();
  const fetch = () =>
    handled(
      it.next().then((r) => (r.done ? undefined : { ...r.value, staged: handled(model.upload(r.value.images)) })),
    );
  try {
    let next = fetch();
    for (;;) {
      const current = await next;
      if (!current) return;
      next = fetch();
      yield current;
    }
  } finally {
    await it.return?.();
  }
}
