/** The createModel options a train config asks for: what `train()` and tune's trials both build. */
import type { ResolvedTrainConfig } from '../config/train-config.js';
import type { Dataset } from '../data/dataset.js';
import { parseNormalize } from '../model/normalization.js';
import type { CreateModelOptions } from '../model/options.js';

/**
 * @param seed the model's seed (train() offsets it per rank for each rank's dropout stream)
 * @example
 * ```ts
 * const model = await createModel(trainModelOptions(config, dataset, { device: 'cpu', precision: 'fp32', seed: config.seed }));
 * ```
 */
export function trainModelOptions(
  c: ResolvedTrainConfig,
  dataset: Dataset,
  run: { device: string; precision: 'fp32' | 'bf16'; seed: number },
): CreateModelOptions {
  return {
    weights: c.weights,
    ...(c.arch ? { arch: c.arch } : {}),
    numClasses: dataset.numClasses,
    imageSize: c.cropSize,
    prompt:
      c.transfer === 'prompt'
        ? {
            tokens: c.promptTokens,
            deep: c.deep,
            dropout: c.promptDropout,
            project: c.promptProject,
            deepLayers: c.deepLayers ?? null,
            reverseDeep: c.reverseDeep,
            deepShared: c.deepShared,
            deepNoExpand: c.deepNoExpand,
            pool: c.promptPool,
            init: c.promptInit,
            clsEmbeddings: c.clsEmbeddings ?? null,
            location: c.promptLocation,
          }
        : null,
    transfer: c.transfer,
    mlpLayers: c.mlpLayers,
    headDropout: c.headDropout,
    ...(c.transfer === 'adapter' ? { adapterReduction: c.adapterReduction } : {}),
    ...(c.transfer === 'sidetune' && c.sideWeights ? { sideWeights: c.sideWeights } : {}),
    normalize: parseNormalize(c.normalize),
    headBias: c.headBias,
    ...(c.selfSupervised ? { selfSupervised: c.selfSupervised } : {}),
    device: run.device,
    precision: run.precision,
    backboneDtype: c.backboneDtype,
    seed: run.seed,
    checkpointBlocks: c.checkpointBlocks,
    fusedLayerNorm: c.fusedLayerNorm,
    ...(c.skipDiscardedPromptRows !== undefined ? { skipDiscardedPromptRows: c.skipDiscardedPromptRows } : {}),
    classNames: dataset.classNames,
  };
}
