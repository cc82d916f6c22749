/** `evaluate()`: accuracy of a tuned checkpoint on a dataset split. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TrainConfig } from '../config/train-config.js';
import { openDataset } from '../data/dataset.js';
import type { Preprocess } from '../data/datasets/common.js';
import { Loader } from '../data/loader.js';
import { ErrorCode, VptError } from '../errors.js';
import { evaluateLoader } from './evaluate-loader.js';
import { loadTrainedModel } from './trained-model.js';

export type EvaluateOptions =
  | {
      data: string;
      weights: string;
      checkpoint: string;
      split?: 'train' | 'val' | 'test';
      arch?: string;
      device?: string;
      batchSize?: number;
      /** The eval view (default: the dataset's splits.json, else fgvc). */
      preprocess?: Preprocess;
    }
  /** A run folder: its config.json names the data and weights; its best.safetensors is evaluated. */
  | { run: string; split?: 'train' | 'val' | 'test'; device?: string; batchSize?: number; preprocess?: Preprocess }
  /** The config a run was trained with: its `out` folder's best.safetensors is evaluated. */
  | (Pick<TrainConfig, 'data' | 'weights' | 'out' | 'arch'> & {
      split?: 'train' | 'val' | 'test';
      device?: string;
      batchSize?: number;
      preprocess?: Preprocess;
    });

export interface EvaluationResult {
  split: string;
  top1: number;
  top5: number;
  loss: number;
  count: number;
  /** Top-1 per class, with the class name. */
  perClass: Array<{ label: number; name: string; top1: number }>;
}

/**
 * Evaluates a checkpoint (default: the val split).
 * @example
 * ```ts
 * const { top1, perClass } = await evaluate({ run: 'runs/cub-deep', split: 'test' });
 * const same = await evaluate({ ...trainConfig, split: 'test' });   // the config train() got
 * ```
 */
export async function evaluate(options: EvaluateOptions): Promise<EvaluationResult> {
  let data: string, weights: string, checkpoint: string, arch: string | undefined;
  let trainedWith: Preprocess | undefined;
  if ('run' in options) {
    let config: { data?: string; weights?: string; arch?: string; preprocess?: string };
    try {
      config = JSON.parse(await readFile(join(options.run, 'config.json'), 'utf8')) as typeof config;
    } catch (error) {
      throw new VptError(
        ErrorCode.Io,
        `${options.run} is not a run folder (config.json unreadable: ${(error as Error).message})`,
      );
    }
    if (!config.data || !config.weights)
      throw new VptError(ErrorCode.Option, `${join(options.run, 'config.json')} names no data or weights`);
    ({ data, weights } = config as { data: string; weights: string });
    arch = config.arch;
    if (config.preprocess === 'fgvc' || config.preprocess === 'vtab') trainedWith = config.preprocess;
    checkpoint = join(options.run, 'best.safetensors');
  } else if ('checkpoint' in options) {
    ({ data, weights, checkpoint, arch } = options);
  } else {
    ({ data, weights, arch } = options);
    checkpoint = join(options.out, 'best.safetensors');
  }
  const split = options.split ?? 'val';
  const dataset = await openDataset(data);
  const samples = dataset.splits[split];
  if (!samples?.length) throw new VptError(ErrorCode.Option, `Invalid option "split": ${data} has no ${split} split`);
  const { model, metadata } = await loadTrainedModel({
    weights,
    checkpoint,
    ...(arch ? { arch } : {}),
    ...(options.device ? { device: options.device } : {}),
  });
  const loader = new Loader(samples, {
    batchSize: options.batchSize ?? 64,
    train: false,
    cropSize: metadata.imageSize,
    shuffle: false,
    // The view the run trained with (its config.json), else the dataset's (splits.json).
    preprocess: options.preprocess ?? trainedWith ?? dataset.preprocess ?? 'fgvc',
  });
  try {
    const r = await evaluateLoader(model, loader, metadata.numClasses);
    return {
      split,
      top1: r.top1,
      top5: r.top5,
      loss: r.loss,
      count: r.count,
      perClass: r.perClass.map((top1, label) => ({ label, name: dataset.classNames[label] ?? String(label), top1 })),
    };
  } finally {
    model.dispose();
    await loader.close();
  }
}
