/**
 * vpt-native: Visual Prompt Tuning (Jia et al., ECCV 2022) for timm Vision Transformers, on a
 * LibTorch native addon.
 */

export { type ResolvedTrainConfig, resolveTrainConfig, type TrainConfig } from './config/train-config.js';
export { importVptConfig, type VptYacsImport } from './config/vpt-yacs.js';
export { type ConvertCubOptions, convertCub } from './data/convert-cub.js';
export { type Dataset, openDataset, type Sample, type SplitName } from './data/dataset.js';
export { type DatasetInfo, datasetNames, FGVC_DATASETS } from './data/datasets/catalog.js';
export { VTAB_TASKS } from './data/datasets/vtab.js';
export {
  type BadImage,
  type Batch,
  createLoader,
  type ImageBatchU8,
  Loader,
  type LoaderOptions,
  type LoaderStats,
} from './data/loader.js';
export { type MatArray, parseMatV5, readMatV5 } from './data/mat-v5.js';
export {
  type PrepareDatasetOptions,
  type PreparedSplit,
  type PrepareResult,
  prepareDataset,
} from './data/prepare-dataset.js';
export { type SynthOptions, synthesizeCub } from './data/synth.js';
export { resizeFor } from './data/vpt-transforms.js';
export { type DemoOptions, type DemoResult, runDemo } from './demo/run-demo.js';
export { type DeviceMemory, deviceMemory } from './device-memory.js';
export { type DistributedEnvironment, distributedFromEnv } from './distributed/environment.js';
export { type LaunchOptions, launchLocalWorkers } from './distributed/local-launcher.js';
export { availableBackends, type JoinOptions, ProcessGroup } from './distributed/process-group.js';
export { type Shard, shardBatch, shardSamples } from './distributed/shard.js';
export { ErrorCode, type ErrorCodeValue, VptError } from './errors.js';
export type { HostHeapPolicy } from './host-heap-policy.js';
export type { BackboneFingerprint } from './model/backbone-fingerprint.js';
export { createModel, createModelSharingBackbone } from './model/create-model.js';
export { groupedStepUnsupported, trainStepGrouped } from './model/grouped-step.js';
export {
  type EvaluateBatchOptions,
  type EvaluateResult,
  type GraphStatus,
  type ImageBatchF32,
  type ImageShape,
  Model,
  type ModelInfo,
  type ModelInput,
  type TrainStepResult,
} from './model/model.js';
export {
  MultiTaskModel,
  type MultiTaskModelOptions,
  type TaskInfo,
  type TaskRequest,
} from './model/multi-task-model.js';
export {
  type CreateModelOptions,
  DEFAULT_PROMPT,
  type PromptOptions,
  TRANSFERS,
  type Transfer,
} from './model/options.js';
export { StagedBatch } from './model/staged-batch.js';
export type { TrainableMetadata } from './model/trainable-state.js';
export { type RuntimeInfo, runtimeInfo } from './runtime-info.js';
export { type ServeHandle, type ServeOptions, serve } from './serve/serve.js';
export {
  type EnsureAddonOptions,
  type EnsureAddonResult,
  ensureAddon,
  type SetupProgress,
} from './setup/ensure-addon.js';
export { type ClassWeighting, computeClassWeights } from './train/class-weights.js';
export { type ClsEmbeddingsOptions, computeClsEmbeddings } from './train/cls-embeddings.js';
export { type EvaluateOptions, type EvaluationResult, evaluate } from './train/evaluate.js';
export type { OptimizerOptions } from './train/optimizer-options.js';
export { type Prediction, type PredictOptions, predict } from './train/predict.js';
export type { EpochMetrics, SplitMetrics } from './train/run-folder.js';
export { type ProgressEvent, type TrainOptions, type TrainResult, train } from './train/train.js';
export type { StackedStepDecision, StackedStepMode } from './tune/stacked-step.js';
export { type TuneConfig, type TuneOptions, type TuneProgressEvent, type TuneSummary, tune } from './tune/tune.js';
export { listArchitectures, parseArch, type VitArchitecture } from './weights/architecture.js';
export { type NpyArray, readNpy, writeNpy } from './weights/npy.js';
export {
  type HostTensor,
  readSafetensors,
  readSafetensorsHeader,
  type SafetensorsEntry,
  type SafetensorsHeader,
  writeSafetensors,
} from './weights/safetensors.js';
