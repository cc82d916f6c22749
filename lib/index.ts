/**
 * vpt-native: Visual Prompt Tuning (Jia et al., ECCV 2022) for timm Vision Transformers, on a
 * LibTorch native addon.
 */
export { createModel } from './model/create-model.js';
export { Model, type EvaluateResult, type ImageShape, type ModelInfo, type TrainStepResult } from './model/model.js';
export { computeClassWeights, type ClassWeighting } from './train/class-weights.js';
export type { OptimizerOptions } from './train/optimizer-options.js';
export { DEFAULT_PROMPT, type CreateModelOptions, type PromptOptions } from './model/options.js';
export type { TrainableMetadata } from './model/trainable-state.js';
export { runtimeInfo, type RuntimeInfo } from './runtime-info.js';
export { ErrorCode, VptError, type ErrorCodeValue } from './errors.js';
export { parseArch, type VitArchitecture } from './weights/architecture.js';
export {
  readSafetensors,
  readSafetensorsHeader,
  writeSafetensors,
  type HostTensor,
  type SafetensorsEntry,
  type SafetensorsHeader,
} from './weights/safetensors.js';
