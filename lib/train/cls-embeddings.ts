/**
 * VPT's CLS embeddings (MODEL.PROMPT.CLSEMB_PATH, read by the prompt inits 'final-cls',
 * 'cls-nolastl', 'cls-nofirstl'), computed from a dataset split with the frozen backbone: per
 * class, the mean over its images (eval view) of the class token entering each block and of the
 * last block's output. Written as a (classes, depth + 1, D) float32 `.npy`.
 */
import { openDataset, type SplitName } from '../data/dataset.js';
import type { Preprocess } from '../data/datasets/common.js';
import { Loader } from '../data/loader.js';
import { ErrorCode, VptError } from '../errors.js';
import { createModel } from '../model/create-model.js';
import { writeNpy } from '../weights/npy.js';

export interface ClsEmbeddingsOptions {
  data: string;
  weights: string;
  arch?: string;
  /** The `.npy` written (replaced atomically). */
  out: string;
  split?: SplitName;
  cropSize?: number;
  batchSize?: number;
  preprocess?: Preprocess;
  device?: string;
  /** Called after each batch with the images done so far and the split's total. */
  onProgress?: (done: number, total: number) => void;
}

/** Computes the per-class CLS embeddings of a split and writes them; returns their shape. */
export async function computeClsEmbeddings(o: ClsEmbeddingsOptions): Promise<{ shape: number[]; counts: number[] }> {
  const split = o.split ?? 'train';
  const dataset = await openDataset(o.data);
  const samples = dataset.splits[split];
  if (!samples?.length) throw new VptError(ErrorCode.Option, `Invalid option "split": ${o.data} has no ${split} split`);
  const model = await createModel({
    weights: o.weights,
    ...(o.arch ? { arch: o.arch } : {}),
    numClasses: dataset.numClasses,
    ...(o.cropSize ? { imageSize: o.cropSize } : {}),
    transfer: 'linear',
    ...(o.device ? { device: o.device } : {}),
  });
  const info = model.info();
  const loader = new Loader(samples, {
    batchSize: o.batchSize ?? 32,
    train: false,
    cropSize: info.imageSize,
    shuffle: false,
    preprocess: o.preprocess ?? dataset.preprocess ?? 'fgvc',
  });
  const C = dataset.numClasses,
    R = info.depth + 1,
    D = info.embedDim;
  const sums = new Float64Array(C * R * D);
  const counts = new Array<number>(C).fill(0);
  try {
    let done = 0;
    for await (const batch of loader.epoch(0)) {
      const cls = await model.clsLayerwise(batch.images);
      batch.labels.forEach((y, i) => {
        counts[y]!++;
        const from = i * R * D,
          to = y * R * D;
        for (let k = 0; k < R * D; k++) sums[to + k]! += cls[from + k]!;
      });
      done += batch.labels.length;
      o.onProgress?.(done, samples.length);
    }
  } finally {
    model.dispose();
    await loader.close();
  }
  const empty = counts.flatMap((n, c) => (n === 0 ? [dataset.classNames[c] ?? String(c)] : []));
  if (empty.length)
    throw new VptError(
      ErrorCode.Data,
      `the ${split} split has no images of class(es) ${empty.slice(0, 10).join(', ')}`,
    );
  const mean = new Float32Array(C * R * D);
  for (let c = 0; c < C; c++) for (let k = 0; k < R * D; k++) mean[c * R * D + k] = sums[c * R * D + k]! / counts[c]!;
  await writeNpy(o.out, [C, R, D], mean);
  return { shape: [C, R, D], counts };
}
