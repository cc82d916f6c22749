/** Evaluates a model over every batch of a loader: loss, top-1, top-5 and per-class accuracy. */
import type { Loader } from '../data/loader.js';
import type { ProcessGroup } from '../distributed/process-group.js';
import type { Model } from '../model/model.js';
import { prefetchUploads } from './prefetch-uploads.js';
import type { SplitMetrics } from './run-folder.js';

export interface LoaderEvaluation extends SplitMetrics {
  /** Top-1 accuracy per class (NaN for a class with no samples). */
  perClass: number[];
  /** Predicted class per sample key. */
  predictions: Map<string, number>;
}

/**
 * `loader` may be undefined for a rank whose shard of a small split is empty. With `group`, each
 * rank evaluates its shard (see shardSamples) and the counters are summed over the ranks, so
 * every rank returns the metrics of the whole split; `predictions` stay this rank's.
 */
export async function evaluateLoader(
  model: Model,
  loader: Loader | undefined,
  numClasses: number,
  group?: ProcessGroup,
): Promise<LoaderEvaluation> {
  let lossSum = 0,
    correct1 = 0,
    correct5 = 0,
    count = 0;
  let hits = new Float64Array(numClasses);
  let totals = new Float64Array(numClasses);
  const predictions = new Map<string, number>();
  // Batch k+1 is uploaded while batch k is evaluated.
  for await (const batch of loader ? prefetchUploads(model, loader.epoch(0)) : []) {
    const r = await model.evaluate(await batch.staged, batch.labels, { logits: true });
    lossSum += r.loss * r.count;
    correct1 += r.correct1;
    correct5 += r.correct5;
    count += r.count;
    const logits = r.logits!;
    batch.labels.forEach((y, i) => {
      let best = 0;
      for (let c = 1; c < numClasses; c++) if (logits[i * numClasses + c]! > logits[i * numClasses + best]!) best = c;
      predictions.set(batch.keys[i]!, best);
      totals[y]!++;
      if (best === y) hits[y]!++;
    });
  }
  if (group) {
    const sums = await group.allReduceSum(Float64Array.of(lossSum, correct1, correct5, count, ...hits, ...totals));
    [lossSum, correct1, correct5, count] = [sums[0]!, sums[1]!, sums[2]!, sums[3]!];
    hits = sums.slice(4, 4 + numClasses);
    totals = sums.slice(4 + numClasses);
  }
  return {
    loss: count ? lossSum / count : NaN,
    top1: count ? correct1 / count : NaN,
    top5: count ? correct5 / count : NaN,
    count,
    perClass: Array.from(totals, (t, c) => (t ? hits[c]! / t : NaN)),
    predictions,
  };
}
