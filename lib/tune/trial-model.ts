/** A trial's model, built and configured as `train()` builds it for the same config. */
import { type ResolvedTrainConfig, scaledLearningRate } from '../config/train-config.js';
import type { Dataset } from '../data/dataset.js';
import { createModel } from '../model/create-model.js';
import type { Model } from '../model/model.js';
import { computeClassWeights } from '../train/class-weights.js';
import { trainModelOptions } from '../train/train-model-options.js';

export async function createTrialModel(
  c: ResolvedTrainConfig,
  dataset: Dataset,
  device: string,
  precision: 'fp32' | 'bf16',
): Promise<Model> {
  const model = await createModel(trainModelOptions(c, dataset, { device, precision, seed: c.seed }));
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
