/** `predict()`: top-k classes with probabilities for image files. */
import { resolve } from 'node:path';

import type { Preprocess } from '../data/datasets/common.js';
import { Loader } from '../data/loader.js';
import { ErrorCode, invalidOption, VptError } from '../errors.js';
import { loadTrainedModel } from './trained-model.js';

export interface PredictOptions {
  weights: string;
  checkpoint: string;
  images: string[];
  /** Classes per image, an integer >= 1 (default 5; at most the checkpoint's classes are listed). */
  topK?: number;
  /** The backbone's timm architecture when its weights have no config.json (default: the checkpoint's). */
  arch?: string;
  device?: string;
  batchSize?: number;
  /** The view the checkpoint was trained with: fgvc (resize + center crop, default) or vtab (resize to S x S). */
  preprocess?: Preprocess;
}

export interface Prediction {
  path: string;
  top: Array<{ label: number; name: string; prob: number }>;
}

/**
 * Classifies images with a tuned checkpoint (eval transform: resize + center crop, or with
 * `preprocess: 'vtab'` a resize to the crop size).
 * @example
 * ```ts
 * const [p] = await predict({ weights: 'models/vit_b16', checkpoint: 'runs/cub/best.safetensors', images: ['bird.jpg'], topK: 3 });
 * console.log(p.top[0].name, p.top[0].prob);
 * ```
 */
export async function predict(o: PredictOptions): Promise<Prediction[]> {
  const topK = o.topK ?? 5;
  if (!Number.isSafeInteger(topK) || topK < 1) throw invalidOption('topK', 'an integer >= 1', o.topK);
  const { model, metadata } = await loadTrainedModel(o);
  const samples = o.images.map((p) => ({ key: p, path: resolve(p), label: 0 }));
  const loader = new Loader(samples, {
    batchSize: o.batchSize ?? 32,
    train: false,
    cropSize: metadata.imageSize,
    shuffle: false,
    preprocess: o.preprocess ?? 'fgvc',
  });
  const C = metadata.numClasses;
  const names = metadata.classNames ?? Array.from({ length: C }, (_, i) => String(i));
  const out: Prediction[] = [];
  try {
    for await (const batch of loader.epoch(0)) {
      const logits = await model.forward(batch.images);
      batch.keys.forEach((key, i) => {
        const row = Array.from(logits.subarray(i * C, (i + 1) * C));
        const max = Math.max(...row);
        const exp = row.map((x) => Math.exp(x - max));
        const sum = exp.reduce((a, b) => a + b, 0);
        const top = exp
          .map((e, label) => ({ label, name: names[label] ?? String(label), prob: e / sum }))
          .sort((a, b) => b.prob - a.prob)
          .slice(0, Math.min(topK, C));
        out.push({ path: key, top });
      });
    }
  } catch (error) {
    throw badImageError(error);
  } finally {
    model.dispose();
    await loader.close();
  }
  return out;
}

/**
 * The loader's bad-image error without what it adds for datasets (the JSON entry, the
 * `onBadImage` option, which predict does not have): the decoder's own message, which names the
 * file and what is wrong with it.
 */
function badImageError(error: unknown): unknown {
  if (
    error instanceof VptError &&
    error.code === ErrorCode.Data &&
    error.cause instanceof VptError &&
    error.cause.code === ErrorCode.Data
  ) {
    return error.cause;
  }
  return error;
}
