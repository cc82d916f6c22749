/** Evaluates a model over every batch of a loader: loss, top-1, top-5 and per-class accuracy. */
import type { Loader } from '../data/loader.js';
import type { Model } from '../model/model.js';
import type { SplitMetrics } from './run-folder.js';

export interface LoaderEvaluation extends SplitMetrics {
  /** Top-1 accuracy per class (NaN for a class with no samples). */
  perClass: number[];
  /** Predicted class per sample key. */
  predictions: Map<string, number>;
}

export async function evaluateLoader(model: Model, loader: Loader, numClasses: number, signal?: AbortSignal): Promise<LoaderEvaluation> {
  let lossSum = 0, correct1 = 0, correct5 = 0, count = 0;
  const hits = new Float64Array(numClasses);
  const totals = new Float64Array(numClasses);
  const predictions = new Map<string, number>();
  for await (const batch of loader.epoch(0)) {
    signal?.throwIfAborted();
    const r = await model.evaluate(batch.images, batch.labels, { logits: true });
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
  return {
    loss: count ? lossSum / count : NaN,
    top1: count ? correct1 / count : NaN,
    top5: count ? correct5 / count : NaN,
    count,
    perClass: Array.from(totals, (t, c) => (t ? hits[c]! / t : NaN)),
    predictions,
  };
}
