/**
 * vpt-native: Visual Prompt Tuning (Jia et al., ECCV 2022) for timm Vision Transformers, on a
 * LibTorch native addon.
 */
export { createModel } from './model/create-model.js';
export { Model, type EvaluateBatchOptions, type EvaluateResult, type GraphStatus, type ImageBatchF32, type ImageShape, type ModelInfo, type ModelInput, type TrainStepResult } from './model/model.js';
export { StagedBatch } from './model/staged-batch.js';
export { computeClassWeights, type ClassWeighting } from './train/class-weights.js';
export type { OptimizerOptions } from './train/optimizer-options.js';
export { DEFAULT_PROMPT, type CreateModelOptions, type PromptOptions } from './model/options.js';
export type { TrainableMetadata } from './model/trainable-state.js';
export { runtimeInfo, type RuntimeInfo } from './runtime-info.js';
export { ensureAddon, type EnsureAddonOptions, type EnsureAddonResult, type SetupProgress } from './setup/ensure-addon.js';
export { deviceMemory, type DeviceMemory } from './device-memory.js';
export { train, type ProgressEvent, type TrainOptions, type TrainResult } from './train/train.js';
export { evaluate, type EvaluateOptions, type EvaluationResult } from './train/evaluate.js';
export { predict, type PredictOptions, type Prediction } from './train/predict.js';
export type { EpochMetrics, SplitMetrics } from './train/run-folder.js';
export { resolveTrainConfig, type ResolvedTrainConfig, type TrainConfig } from './config/train-config.js';
export { importVptConfig, type VptYacsImport } from './config/vpt-yacs.js';
export { runDemo, type DemoOptions, type DemoResult } from './demo/run-demo.js';
export { convertCub, type ConvertCubOptions } from './data/convert-cub.js';
export { synthesizeCub, type SynthOptions } from './data/synth.js';
export { openDataset, type Dataset, type Sample, type SplitName } from './data/dataset.js';
export { Loader, createLoader, type BadImage, type Batch, type ImageBatchU8, type LoaderOptions, type LoaderStats } from './data/loader.js';
export { resizeFor } from './data/vpt-transforms.js';
export { ErrorCode, VptError, type ErrorCodeValue } from './errors.js';
export { distributedFromEnv, type DistributedEnvironment } from './distributed/environment.js';
export { ProcessGroup, availableBackends, type JoinOptions } from './distributed/process-group.js';
export { shardBatch, shardSamples, type Shard } from './distributed/shard.js';
export { launchLocalWorkers, type LaunchOptions } from './distributed/local-launcher.js';
export { parseArch, type VitArchitecture } from './weights/architecture.js';
export {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type HostTensor,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './weights/safetensors.js';
