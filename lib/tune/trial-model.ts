/** A trial's model, built and configured as `train()` builds it for the same config. */
import { type ResolvedTrainConfig, scaledLearningRate } from '../config/train-config.js';
import type { Dataset } from '../data/dataset.js';
import { createModel, createModelSharingBackbone } from '../model/create-model.js';
import type { Model } from '../model/model.js';
import { computeClassWeights } from '../train/class-weights.js';
import { trainModelOptions } from '../train/train-model-options.js';

/** Whether trials of this config can hold one backbone between them: those that never write it. */
export function sharesBackbone(c: Pick<ResolvedTrainConfig, 'transfer'>): boolean {
  return c.transfer === 'prompt' || c.transfer === 'linear';
}

/** @param backboneOf a model whose frozen backbone the trial's model shares instead of loading its own (see sharesBackbone) */
export async function createTrialModel(
  c: ResolvedTrainConfig,
  dataset: Dataset,
  device: string,
  precision: 'fp32' | 'bf16',
  backboneOf?: Model,
): Promise<Model> {
  const options = trainModelOptions(c, dataset, { device, precision, seed: c.seed });
  const model = await (backboneOf ? createModelSharingBackbone(options, backboneOf) : createModel(options));
  try {
    if (c.classWeights !== 'none') {
      const labels = (dataset.splits.train ?? []).map((s) => s.label);
      model.setClassWeights(computeClassWeights(labels, dataset.numClasses, c.classWeights));
    }
    model.configureOptimizer({
      optimizer: c.optimizer,
      lr: scaledLearningRate(c),
      ...(c.optimizer === 'sgd' ? { momentum: c.momentum } : {}),
      weightDecay: c.weightDecay,
      ...(c.clipGradNorm ? { clipGradNorm: c.clipGradNorm } : {}),
      cudaGraphs: c.cudaGraphs,
    });
  } catch (error) {
    model.dispose();
    throw error;
  }
  return model;
}
