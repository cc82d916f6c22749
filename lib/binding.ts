/**
 * The one place that loads the native addon and describes it in TypeScript.
 *
 * The addon is the local build under `build/Release/`, else the prebuild under
 * `prebuilds/<platform>-<arch>/` tagged with the LibTorch version and CPU/CUDA variant found on
 * this machine (lib/prebuild.ts), else an optional `@vpt-native/<platform>-<arch>-torch<x.y>-<variant>`
 * package for it, else the per-user cache entry `vpt-native setup` built for it
 * (lib/setup/locate-addon.ts). `VPT_NATIVE_ADDON=/path/to/vpt_native.node` forces one file.
 * When none fits or loads, the error says which situation this is and the command that fixes it.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { ErrorCode, VptError } from './errors.js';
import { applyHostHeapPolicy, type HostHeapPolicy, requestedHostHeapPolicy } from './host-heap-policy.js';
import { type AddonLocation, explainLoadError, locateAddon } from './setup/locate-addon.js';

/** A tensor entry of a weights file, validated in TypeScript before native code reads it. */
export interface NativeTensorEntry {
  name: string;
  dtype: string;
  shape: number[];
  offset: number;
  nbytes: number;
}

/** A float32 tensor crossing the boundary. */
export interface NativeTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** The plain configuration object `NativeModel` is constructed from. */
export interface NativeModelConfig {
  vit: {
    imgSize: number;
    patchSize: number;
    inChans: number;
    embedDim: number;
    depth: number;
    numHeads: number;
    mlpRatio: number;
    qkvBias: boolean;
    classToken: boolean;
    regTokens: number;
    noEmbedClass: boolean;
    layerScale: boolean;
    globalPool: 'token' | 'avg' | 'map';
    fcNorm: boolean;
    normEps: number;
    /** Absent: timm's defaults (gelu, no norm_pre, no map head). */
    act?: 'gelu' | 'quick_gelu' | 'gelu_tanh';
    preNorm?: boolean;
    distToken?: boolean;
    eva?: boolean;
    swiglu?: boolean;
    mlpNorm?: boolean;
    rope?: boolean;
    ropeRefGrid?: number;
    ropeTemperature?: number;
    /** A checkpoint without fc_norm (MAE pretraining) gets an identity fc_norm; its final norm is unused. */
    freshFcNorm?: boolean;
    /** A checkpoint without pos_embed gets MoCo v3's fixed 2D sin-cos position embedding. */
    sincosPosEmbed?: boolean;
  };
  prompt: { tokens: number; deep: boolean; dropout: number; project: number } | null;
  numClasses: number;
  headHiddenLayers: number;
  /** 'prompt' | 'linear' | 'full' | 'bias' | 'adapter' | 'partial-k'. */
  transfer: string;
  /** transfer 'adapter': width embedDim / adapterReduction (absent: 8). */
  adapterReduction?: number;
  /** The MLP head's dropout (absent: 0.1). */
  headDropout?: number;
  device: string;
  seed: number;
  precision: 'fp32' | 'bf16';
  backboneDtype: 'float32' | 'bfloat16';
  checkpointBlocks: boolean;
  fusedLayerNorm: boolean;
  /** VPT-deep: compute only the keys and values of prompt rows whose outputs are overwritten. */
  skipDiscardedPromptRows: boolean;
  /** Average / MAP pooling include the prompt tokens (absent: false). */
  poolPrompts?: boolean;
}

/** Optimizer settings after validation (lib/train/optimizer-options.ts). */
export interface NativeOptimizerConfig {
  kind: 'sgd' | 'adamw';
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  /** 0 disables clipping. */
  clipGradNorm: number;
  maxNonFinite: number;
  /** Capture the fixed-shape train step as a CUDA graph and replay it (eager where that cannot be). */
  cudaGraphs: boolean;
}

/** A uint8 image batch (lib/data/image-batch.ts) plus the normalization the device applies. */
export interface NativeImageBatchU8 {
  /** (n, h, w, 3) RGB. */
  pixels: Uint8Array;
  shape: number[];
  /** n x 2: top, left. */
  crops: Int32Array;
  flips: Uint8Array;
  cropSize: number;
  mean: [number, number, number];
  std: [number, number, number];
}

export interface NativeTrainingState {
  tensors: NativeTensor[];
  step: number;
  rng: Uint8Array;
  nonfiniteTotal: number;
  nonfiniteStreak: number;
}

/** Result of one training step. */
export interface NativeTrainStepResult {
  /** Mean (class-weighted) cross-entropy of the batch, before the update. */
  loss: number;
  /** Correct top-1 predictions in the batch, before the update. */
  correct: number;
  /** Global L2 norm of the gradients, before clipping. */
  gradNorm: number;
  /** The loss or a gradient was not finite: no update was made. */
  skipped: boolean;
  /** Images the step trained on: the global batch when data-parallel (`loss` and `correct` are over it too). */
  count: number;
  /** Data-parallel: some rank called `voteStop()`; every rank sees this on the same step. */
  stop: boolean;
  /** The step was replayed from a captured CUDA graph. */
  graphed: boolean;
}

/** Whether the train step runs as a CUDA graph, and why not when it was asked for and does not. */
export interface NativeGraphStatus {
  requested: boolean;
  /** A graph is captured for the current batch shape. */
  captured: boolean;
  captures: number;
  replays: number;
  /** Why the last step ran eagerly although graphs were requested; null when it was replayed. */
  fallback: string | null;
}

/** A uint8 batch a model uploaded ahead of its step (`uploadU8`). */
export interface NativeStagedBatch {
  dispose(): void;
}

/** Options of `NativeProcessGroup.join` (lib/distributed/ validates them). */
export interface NativeGroupOptions {
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  backend: 'gloo' | 'nccl';
  timeoutMs: number;
  /** GLOO_SOCKET_IFNAME; '' picks the interface that reaches masterAddr. */
  glooInterface: string;
  /** NCCL: this rank's GPU. */
  cudaDevice: number;
}

/** A c10d process group (TCPStore rendezvous + Gloo or NCCL); see native/distributed/process_group.h. */
export interface NativeProcessGroup {
  join(options: NativeGroupOptions): Promise<void>;
  allReduceSum(values: Float64Array): Promise<Float64Array>;
  barrier(): Promise<void>;
  dispose(): void;
}

export interface NativeModel {
  loadBackbone(path: string, entries: NativeTensorEntry[]): Promise<void>;
  /** transfer 'sidetune': the side network's AlexNet convolutions (torchvision's state-dict names). */
  loadSide(path: string, entries: NativeTensorEntry[]): Promise<void>;
  forward(images: Float32Array, shape: number[]): Promise<Float32Array>;
  features(images: Float32Array, shape: number[]): Promise<Float32Array>;
  /** The prompt-free frozen blocks' output (n x T x D); throws when the model has none. */
  stem(images: Float32Array, shape: number[]): Promise<Float32Array>;
  /** The class token entering each block, then the last block's output (n x (L + 1) x D), without prompts. */
  clsLayerwise(images: Float32Array, shape: number[]): Promise<Float32Array>;
  exportTrainable(): Promise<NativeTensor[]>;
  importTrainable(tensors: NativeTensor[]): Promise<void>;
  configureOptimizer(config: NativeOptimizerConfig): void;
  attachProcessGroup(group: NativeProcessGroup): Promise<void>;
  voteStop(): void;
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  setLearningRate(lr: number): void;
  setClassWeights(weights: Float32Array | null): void;
  trainStep(images: Float32Array, shape: number[], labels: Int32Array): Promise<NativeTrainStepResult>;
  trainStepFeatures(features: Float32Array, shape: number[], labels: Int32Array): Promise<NativeTrainStepResult>;
  evaluate(
    images: Float32Array,
    shape: number[],
    labels: Int32Array,
    keepLogits: boolean,
  ): Promise<{ loss: number; correct1: number; correct5: number; count: number; logits?: Float32Array }>;
  exportState(): Promise<NativeTrainingState>;
  /** With `optimizer`, a new optimizer with those settings takes the state (and replaces the current one only on success). */
  importState(state: NativeTrainingState & { optimizer?: NativeOptimizerConfig }): Promise<void>;
  exportBackbone(): Promise<NativeTensor[]>;
  gradientState(): { withGrad: string[]; backboneRequiresGrad: string[] };
  info(): {
    trainableParams: number;
    /** Leading blocks that see no prompts (prompt tuning): what stem() runs. */
    stemBlocks: number;
    totalParams: number;
    device: string;
    backboneDtype: 'float32' | 'bfloat16';
    backboneBytes: number;
    fusedLayerNorm: boolean;
    /** The backbone is another model's tensors, or lent to one (shareBackbone). */
    backboneShared: boolean;
    /** The backbone's storage as an opaque key: models that hold one backbone report the same key ("" before loading). */
    backboneKey: string;
  };
  /** This model's backbone becomes `source`'s tensors, no copy (frozen backbones only: VPT_OPTION otherwise). */
  shareBackbone(source: NativeModel): Promise<void>;
  /**
   * This model and `others`, which share its backbone, train one step together on the batch
   * (the stacked group step, native/train/grouped_step.h): one result or error per model, this one first.
   */
  trainStepGrouped(
    batch: NativeImageBatchU8 | NativeStagedBatch,
    labels: Int32Array,
    others: NativeModel[],
  ): Promise<(NativeTrainStepResult | { error: { code: string; message: string } })[]>;
  trainStepGrouped(
    images: Float32Array,
    shape: number[],
    labels: Int32Array,
    others: NativeModel[],
  ): Promise<(NativeTrainStepResult | { error: { code: string; message: string } })[]>;
  /** Why this model and `others` cannot step together, or null. */
  groupedStepUnsupported(others: NativeModel[]): string | null;
  /** The (n, 3, S, S) normalized float input the device makes of a uint8 batch. */
  preprocessU8(batch: NativeImageBatchU8): Promise<Float32Array>;
  forwardU8(batch: NativeImageBatchU8): Promise<Float32Array>;
  trainStepU8(batch: NativeImageBatchU8 | NativeStagedBatch, labels: Int32Array): Promise<NativeTrainStepResult>;
  uploadU8(batch: NativeImageBatchU8, target: NativeStagedBatch): Promise<void>;
  graphStatus(): NativeGraphStatus;
  evaluateU8(
    batch: NativeImageBatchU8 | NativeStagedBatch,
    labels: Int32Array,
    keepLogits: boolean,
  ): Promise<{ loss: number; correct1: number; correct5: number; count: number; logits?: Float32Array }>;
  dispose(): void;
  /** The backbone as loaded (native/model/backbone_fingerprint.h); null before loadBackbone. */
  backboneFingerprint(): NativeBackboneFingerprint | null;
}

/** What identifies a backbone: FNV-1a 64 hashes of its tensors' names and shapes, and of their values in bfloat16. */
export interface NativeBackboneFingerprint {
  shapes: string;
  weights: string;
  params: number;
}

/** A task of `NativeMultiTaskModel`: prompts (null for linear probing) and head. */
export interface NativeTaskConfig {
  prompt: { tokens: number; deep: boolean; project: number } | null;
  numClasses: number;
  headHiddenLayers: number;
}

/** One frozen backbone, many tasks, mixed-task batches (native/model/multi_task_forward.h). */
export interface NativeMultiTaskModel {
  loadBackbone(path: string, entries: NativeTensorEntry[]): Promise<NativeBackboneFingerprint>;
  addTask(config: NativeTaskConfig, tensors: NativeTensor[]): Promise<number>;
  /** Request r classifies image imageOf[r] with task taskOf[r]; its logits follow request r - 1's. */
  forward(images: Float32Array, shape: number[], imageOf: Int32Array, taskOf: Int32Array): Promise<Float32Array>;
  forwardU8(batch: NativeImageBatchU8, imageOf: Int32Array, taskOf: Int32Array): Promise<Float32Array>;
  info(): { device: string; backboneBytes: number; taskBytes: number[] };
  dispose(): void;
}

export interface NativeRuntimeInfo {
  torchVersion: string;
  cudaBuild: boolean;
  cudaAvailable: boolean;
  cudaFusedKernels: boolean;
  cudaRuntime: string;
  gpus: { index: number; name: string; totalMemory: number; computeCapability: string }[];
  cpuThreads: number;
  interopThreads: number;
  blas: string;
  lapack: string;
  mkl: boolean;
  onednn: boolean;
  openmp: boolean;
  cpuCapability: string;
  buildConfig: string;
  builtAgainstTorchRoot: string;
  builtAgainstTorchVersion: string;
}

/** What `decodeJpegFile` makes of an image file: its resized pixels, or its bytes for sharp. */
export type NativeJpegResult =
  | { pixels: Uint8Array; width: number; height: number }
  | { file: Uint8Array; declined: string };

export interface NativeAddon {
  NativeModel: new (config: NativeModelConfig) => NativeModel;
  /** Reads only `vit` and `device` of the config. */
  NativeMultiTaskModel: new (
    config: NativeModelConfig,
  ) => NativeMultiTaskModel;
  NativeProcessGroup: { new (): NativeProcessGroup; backends(): { gloo: boolean; nccl: boolean } };
  NativeStagedBatch: { new (): NativeStagedBatch };
  /**
   * Reads (`path`) or takes (`bytes`, copied), decodes, orients and resizes one JPEG
   * (lib/data/decode-image.ts); absent in builds without libjpeg.
   */
  decodeJpegFile?(request: {
    path?: string;
    bytes?: Uint8Array;
    shorter: number;
    fill?: boolean;
    maxPixels?: number;
  }): Promise<NativeJpegResult>;
  /** The CUDA caching allocator's counters for GPU `index`; null on CPU builds or without CUDA. */
  deviceMemory(
    index: number,
    resetPeak: boolean,
  ): { allocated: number; peakAllocated: number; reserved: number; peakReserved: number } | null;
  runtimeInfo(): NativeRuntimeInfo;
  /** glibc malloc's live and free-but-held bytes (lib/host-heap.ts); null without glibc. */
  hostHeap(): { inUse: number; free: number } | null;
  /** malloc_trim(0): malloc's free pages go back to the system; true when some did. */
  trimHostHeap(): boolean;
  /** mallopt of the three (lib/host-heap-policy.ts); true when glibc took them. Absent in addons built before it. */
  keepHostHeap?(mmapThreshold: number, trimThreshold: number, topPad: number): boolean;
  /** Fused add + LayerNorm kernels against ATen ops on `device` (native/kernels/add_layer_norm_check.h); synchronous. */
  checkAddLayerNorm(device: string): NativeAddLayerNormCheck;
}

/** `checkAddLayerNorm`: `fused` false (no cases) where the device has no fused kernels. */
export interface NativeAddLayerNormCheck {
  fused: boolean;
  cases: {
    name: string;
    /** The kernels ran for this case (else the reference ran against itself). */
    fused: boolean;
    ok: boolean;
    tolerance: number;
    /** max |fused - reference| / max(1, |reference|) of each output and gradient. */
    maxDiff: {
      sum: number;
      normed: number;
      gradX: number;
      gradR: number;
      gradRows: number;
      gradWeight: number;
      gradBias: number;
    };
  }[];
}

/** The package root (this file lives in lib/ or dist/lib/). */
export const packageRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

/** The loaded addon, where it came from, and the malloc policy applied when it loaded (lib/host-heap-policy.ts). */
export interface LoadedAddon {
  addon: NativeAddon;
  path: string;
  hostHeap: HostHeapPolicy;
}

let cached: LoadedAddon | undefined;

/**
 * Loads the addon once, from the first place lib/setup/locate-addon.ts finds that loads;
 * throws a VptError (code VPT_ADDON) that says which situation this is and the command that
 * fixes it (usually `npx vpt-native setup`).
 */
export function loadAddon(): LoadedAddon {
  if (cached) return cached;
  const heapPolicy = requestedHostHeapPolicy(process.env); // a bad VPT_HOST_HEAP is refused before anything loads
  const require = createRequire(import.meta.url);
  const search = locateAddon(packageRoot);
  if (search.locations.length === 0) throw new VptError(ErrorCode.Addon, search.problem!.message);
  let first: { location: AddonLocation; error: Error } | undefined;
  for (const location of search.locations) {
    try {
      if (location.preload) preloadLibTorch(location.preload);
      const addon = require(location.path) as NativeAddon;
      cached = { addon, path: location.path, hostHeap: applyHostHeapPolicy(addon, heapPolicy) };
      return cached;
    } catch (error) {
      first ??= { location, error: error as Error };
    }
  }
  throw new VptError(ErrorCode.Addon, explainLoadError(search, first!.location, first!.error).message, {
    cause: first!.error,
  });
}

/** Whether this process has loaded the addon (a failed load is not remembered: the next call searches again). */
export function addonLoaded(): boolean {
  return cached !== undefined;
}

/** glibc's RTLD_NODELETE (Node does not export it): the library stays loaded after dlclose. */
const RTLD_NODELETE = 0x1000;

/**
 * A prebuild's RUNPATH names the build machine's LibTorch. Loading the matched LibTorch's
 * libraries first (dependencies first) makes the dynamic linker bind the addon to them:
 * libraries already loaded are reused by soname. Node dlcloses a library that is not an addon,
 * so they are opened with RTLD_NODELETE to stay resident.
 */
function preloadLibTorch(root: string): void {
  for (const name of ['libc10.so', 'libtorch_cpu.so', 'libtorch.so', 'libc10_cuda.so', 'libtorch_cuda.so']) {
    const library = join(root, 'lib', name);
    if (!existsSync(library)) continue;
    try {
      process.dlopen(
        { exports: {} },
        library,
        constants.dlopen.RTLD_NOW | constants.dlopen.RTLD_GLOBAL | RTLD_NODELETE,
      );
    } catch {
      // "Module did not self-register": expected, LibTorch is not a Node addon.
    }
  }
}
