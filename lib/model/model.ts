/**
 * `Model`: a prompted ViT living in native memory. Every heavy method runs off the JS thread
 * and returns a Promise; errors are VptErrors with a stable `code`.
 */
import {
  loadAddon,
  type NativeGraphStatus,
  type NativeImageBatchU8,
  type NativeModel,
  type NativeOptimizerConfig,
  type NativeStagedBatch,
  type NativeTensor,
  type NativeTrainStepResult,
} from '../binding.js';
import { checkImageBatchU8, type ImageBatchU8 } from '../data/image-batch.js';
import type { ProcessGroup } from '../distributed/process-group.js';
import { callNative, callNativeSync, ErrorCode, fromNative, VptError } from '../errors.js';
import { type OptimizerOptions, resolveOptimizerOptions } from '../train/optimizer-options.js';
import type { VitArchitecture } from '../weights/architecture.js';
import type { BackboneFingerprint } from './backbone-fingerprint.js';
import {
  currentInputArgs,
  type ImageBatchF32,
  type ImageShape,
  type InputArgs,
  type ModelInput,
} from './model-input.js';
import type { PromptOptions, Transfer } from './options.js';
import type { SelfSupervised } from './self-supervised.js';
import { StagedBatch } from './staged-batch.js';
import {
  readTrainableState,
  TRAINABLE_FORMAT,
  TRAINABLE_VERSION,
  type TrainableMetadata,
  writeTrainableState,
} from './trainable-state.js';
import { readTrainingState, writeTrainingState } from './training-state.js';

export type { ImageBatchF32, ImageShape, ModelInput } from './model-input.js';

/** A description of a created model. */
export interface ModelInfo {
  arch: string;
  embedDim: number;
  depth: number;
  heads: number;
  patchSize: number;
  /** The image size the model runs at (square). */
  imageSize: number;
  numClasses: number;
  transfer: Transfer;
  prompt: PromptOptions | null;
  mlpLayers: number;
  /** transfer 'adapter': the adapters' reduction factor (width embedDim / adapterReduction). */
  adapterReduction?: number;
  /** Parameters the transfer mode trains (prompts, projection, head; all for `full`). */
  trainableParams: number;
  totalParams: number;
  /** `cpu`, `cuda` or `cuda:N`. */
  device: string;
  mean: [number, number, number];
  std: [number, number, number];
  classNames: string[] | null;
  precision: 'fp32' | 'bf16';
  /** Storage of the frozen backbone's weights (LayerNorm weights are always float32). */
  backboneDtype: 'float32' | 'bfloat16';
  /** Bytes the backbone's weights occupy on the device. */
  backboneBytes: number;
  /** Residual adds run fused with the LayerNorm after them (`createModel`'s `fusedLayerNorm`). */
  fusedLayerNorm: boolean;
  /** The backbone's tensors are shared with other models (`createModelSharingBackbone`), not a copy of its own. */
  backboneShared: boolean;
  /** The backbone's storage, as an opaque key: models that report the same key hold one backbone between them. */
  backboneStorage: string;
  /**
   * Prompt tuning: the leading blocks that see no prompts (`reverseDeep`: depth - deepLayers), frozen,
   * so their output depends on the image alone (`stemFeatures`, `trainStepStem`); 0 otherwise.
   */
  stemBlocks: number;
  /**
   * VPT-deep computes only the keys and values of the prompt rows each next block overwrites
   * (`createModel`'s `skipDiscardedPromptRows`, as resolved: on from 10 prompts unless given).
   */
  skipDiscardedPromptRows: boolean;
}

/** Result of one training step (described in lib/binding.ts, where the addon returns it). */
export type TrainStepResult = NativeTrainStepResult;
/** `model.graphStatus()`: CUDA graphs of the train step. */
export type GraphStatus = NativeGraphStatus;

/** Result of evaluating one batch. */
export interface EvaluateResult {
  /** Mean cross-entropy (unweighted). */
  loss: number;
  top1: number;
  top5: number;
  correct1: number;
  correct5: number;
  count: number;
  /** n x C logits, when asked for. */
  logits?: Float32Array;
}

/** Options of `Model.evaluate`. */
export interface EvaluateBatchOptions {
  /** Return the n x C logits too (`EvaluateResult.logits`). */
  logits?: boolean;
}

/** A `ModelInput` checked against the model, in the form the native calls take. */
type CheckedInput =
  | { kind: 'f32'; pixels: Float32Array; shape: number[]; n: number }
  | { kind: 'u8'; batch: NativeImageBatchU8; n: number }
  | { kind: 'staged'; staged: StagedBatch; n: number };

/** Everything `Model` needs from createModel. */
export interface ModelSpec {
  architecture: VitArchitecture;
  imageSize: number;
  numClasses: number;
  transfer: Transfer;
  prompt: PromptOptions | null;
  mlpLayers: number;
  /** transfer 'adapter': the adapters' reduction factor. */
  adapterReduction?: number;
  classNames: string[] | null;
  precision: 'fp32' | 'bf16';
  backboneDtype: 'float32' | 'bfloat16';
  /** Average / MAP pooling include the prompt tokens (createModel's poolPrompts). */
  poolPrompts?: boolean;
  /** Discarded deep-prompt rows are not computed (createModel's resolved skipDiscardedPromptRows). */
  skipDiscardedPromptRows?: boolean;
  /** A self-supervised backbone as VPT runs it (createModel's selfSupervised). */
  selfSupervised?: SelfSupervised;
}

export class Model {
  #native: NativeModel | undefined;
  readonly #spec: ModelSpec;
  #optimizer: NativeOptimizerConfig | undefined;

  /** @internal Use `createModel`. */
  constructor(native: NativeModel, spec: ModelSpec) {
    this.#native = native;
    this.#spec = { ...spec };
  }

  /**
   * Class logits for a batch (any `ModelInput`: normalized NCHW floats with their shape, a
   * loader's uint8 batch, cropped, flipped and normalized with the model's mean/std on the
   * device, or a batch staged by `upload`, read from its host copy).
   * @returns n x numClasses logits, row-major
   * @example
   * ```ts
   * const logits = await model.forward({ pixels: images, shape: [2, 3, 224, 224] });
   * for await (const batch of loader.epoch(0)) console.log(await model.forward(batch.images));
   * ```
   */
  forward(input: ModelInput): Promise<Float32Array>;
  /**
   * @deprecated Pass the pixels and their shape as one `ImageBatchF32`:
   * `forward({ pixels: images, shape })`. This form keeps working through 0.x.
   */
  forward(images: Float32Array, shape: ImageShape): Promise<Float32Array>;
  async forward(...args: InputArgs<[]>): Promise<Float32Array> {
    const [input] = currentInputArgs(args);
    const native = this.#alive();
    const x = this.#input(input);
    if (x.kind === 'f32') return callNative(() => native.forward(x.pixels, x.shape));
    const batch = this.#hostBatch(x);
    return callNative(() => native.forwardU8(batch));
  }

  /**
   * The normalized (n, 3, S, S) float input the device makes of a uint8 batch: each image
   * cropped, flipped when asked, and normalized with the model's mean/std.
   * @example
   * ```ts
   * const x = await model.preprocess(batch.images);   // what trainStep / evaluate see
   * ```
   */
  async preprocess(batch: ImageBatchU8): Promise<Float32Array> {
    const native = this.#alive();
    const b = this.#nativeBatch(batch);
    return callNative(() => native.preprocessU8(b));
  }

  /**
   * Pooled backbone features (the head's input) for a batch (any `ModelInput`; a uint8 or
   * staged batch is preprocessed on the device first, as `preprocess` does).
   * @returns n x embedDim features, row-major
   * @example
   * ```ts
   * const feats = await model.features({ pixels: images, shape: [2, 3, 224, 224] });
   * const same = await model.features(batch.images);   // == features of preprocess(batch.images)
   * ```
   */
  features(input: ModelInput): Promise<Float32Array>;
  /**
   * @deprecated Pass the pixels and their shape as one `ImageBatchF32`:
   * `features({ pixels: images, shape })`. This form keeps working through 0.x.
   */
  features(images: Float32Array, shape: ImageShape): Promise<Float32Array>;
  async features(...args: InputArgs<[]>): Promise<Float32Array> {
    const [input] = currentInputArgs(args);
    const native = this.#alive();
    const x = this.#input(input);
    if (x.kind === 'f32') return callNative(() => native.features(x.pixels, x.shape));
    const batch = this.#hostBatch(x);
    const pixels = await callNative(() => native.preprocessU8(batch));
    const S = this.#spec.imageSize;
    return callNative(() => native.features(pixels, [x.n, 3, S, S]));
  }

  /**
   * The output of the blocks below the first prompted one (`info().stemBlocks` of them; prompts
   * in the last k blocks only, `reverseDeep`), frozen and prompt-free: per image it never changes,
   * so a training loop without augmentation computes it once (`train()`'s `cacheFeatures`) and
   * steps on it with `trainStepStem`. n x T x D values, T = prefix + patch tokens.
   */
  async stemFeatures(input: ModelInput): Promise<Float32Array> {
    const native = this.#alive();
    if (this.info().stemBlocks === 0) {
      throw new VptError(
        ErrorCode.Option,
        'stemFeatures needs prompt-free blocks below the prompts (prompt.reverseDeep with prompt.deepLayers below the depth)',
      );
    }
    const x = this.#input(input);
    if (x.kind === 'f32') return callNative(() => native.stem(x.pixels, x.shape));
    const batch = this.#hostBatch(x);
    const pixels = await callNative(() => native.preprocessU8(batch));
    const S = this.#spec.imageSize;
    return callNative(() => native.stem(pixels, [x.n, 3, S, S]));
  }

  /**
   * The class token entering each block, then the last block's output (before the final norm),
   * without prompts: n x (depth + 1) x embedDim values. Per-class means of these are VPT's CLS
   * embeddings (`computeClsEmbeddings`, prompt init 'final-cls' / 'cls-nolastl' / 'cls-nofirstl').
   */
  async clsLayerwise(input: ModelInput): Promise<Float32Array> {
    const native = this.#alive();
    const x = this.#input(input);
    if (x.kind === 'f32') return callNative(() => native.clsLayerwise(x.pixels, x.shape));
    const batch = this.#hostBatch(x);
    const pixels = await callNative(() => native.preprocessU8(batch));
    const S = this.#spec.imageSize;
    return callNative(() => native.clsLayerwise(pixels, [x.n, 3, S, S]));
  }

  /**
   * One training step from `stemFeatures` output: the same update as `trainStep` on the images
   * they came from (within float rounding), without running the stem's blocks again.
   * @param hidden n x T x D, row-major, as `stemFeatures` returns it
   */
  async trainStepStem(hidden: Float32Array, labels: Int32Array): Promise<TrainStepResult> {
    const native = this.#alive();
    this.#requireOptimizer();
    const a = this.#spec.architecture;
    const grid = this.#spec.imageSize / a.patchSize;
    const T = (a.classToken ? 1 : 0) + a.regTokens + grid * grid;
    if (!(hidden instanceof Float32Array) || hidden.length !== labels.length * T * a.embedDim) {
      throw new VptError(
        ErrorCode.Shape,
        `stem features must be a Float32Array of ${labels.length} x ${T} x ${a.embedDim} values`,
      );
    }
    this.#checkLabels(labels, labels.length);
    return callNative(() => native.trainStepFeatures(hidden, [labels.length, T, a.embedDim], labels));
  }

  /**
   * Saves the trainable tensors (prompts, projection, head) to a safetensors file, atomically.
   * `metadata` adds string entries to the file's `__metadata__` (the train loop stores its
   * resolved config under `config`).
   * @example
   * ```ts
   * await model.saveTrainable('runs/cub/trainable.safetensors');
   * ```
   */
  async saveTrainable(path: string, metadata: Record<string, string> = {}): Promise<void> {
    const native = this.#alive();
    const tensors = await callNative(() => native.exportTrainable());
    await writeTrainableState(path, tensors, this.#metadata(), metadata);
  }

  /**
   * Loads a trainable-state file saved by `saveTrainable` for a model of the same shape.
   * @example
   * ```ts
   * await model.loadTrainable('runs/cub/trainable.safetensors');
   * ```
   */
  async loadTrainable(path: string): Promise<void> {
    const native = this.#alive();
    const { tensors, metadata } = await readTrainableState(path, this.#metadata());
    try {
      await callNative(() => native.importTrainable(tensors));
    } catch (error) {
      throw withOldMlpHeadHint(error, path, tensors);
    }
    if (
      !this.#spec.classNames &&
      Array.isArray(metadata.classNames) &&
      metadata.classNames.length === this.#spec.numClasses
    ) {
      this.#spec.classNames = metadata.classNames;
    }
  }

  /**
   * Sets up the optimizer for the trainable tensors (and resets its state). Biases, 1-D
   * tensors and timm's embeddings get no weight decay.
   * @example
   * ```ts
   * model.configureOptimizer({ optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 1e-4 });
   * ```
   */
  configureOptimizer(options: OptimizerOptions): void {
    const native = this.#alive();
    const config = resolveOptimizerOptions(options);
    callNativeSync(() => native.configureOptimizer(config));
    this.#optimizer = config;
  }

  /**
   * Sets the learning rate for the next steps (call it every step for a schedule).
   * @example
   * ```ts
   * model.setLearningRate(0.05);
   * ```
   */
  setLearningRate(lr: number): void {
    const native = this.#alive();
    const optimizer = this.#requireOptimizer();
    if (!(typeof lr === 'number' && Number.isFinite(lr) && lr >= 0)) {
      throw new VptError(ErrorCode.Option, `Invalid option "lr": expected a finite number >= 0, got ${String(lr)}`);
    }
    callNativeSync(() => native.setLearningRate(lr));
    optimizer.lr = lr;
  }

  /**
   * Per-class loss weights (length numClasses), e.g. from `computeClassWeights`; null for none.
   * @example
   * ```ts
   * model.setClassWeights(computeClassWeights(trainLabels, 200, 'inv'));
   * ```
   */
  setClassWeights(weights: Float32Array | null): void {
    const native = this.#alive();
    if (weights !== null) {
      if (
        !(weights instanceof Float32Array) ||
        weights.length !== this.#spec.numClasses ||
        !weights.every((w) => Number.isFinite(w) && w >= 0)
      ) {
        throw new VptError(
          ErrorCode.Option,
          `Invalid option "classWeights": expected a Float32Array of ${this.#spec.numClasses} finite weights >= 0`,
        );
      }
    }
    callNativeSync(() => native.setClassWeights(weights));
  }

  /**
   * One training step on a batch (any `ModelInput`): forward (prompt dropout on),
   * cross-entropy, backward into the trainable tensors only, optimizer step.
   * @param labels class indices 0..numClasses-1, one per image
   * @example
   * ```ts
   * model.configureOptimizer({ optimizer: 'sgd', lr: 0.1 });
   * const { loss, correct } = await model.trainStep({ pixels: images, shape: [16, 3, 224, 224] }, labels);
   * for await (const batch of loader.epoch(0)) await model.trainStep(batch.images, batch.labels);
   * ```
   */
  trainStep(input: ModelInput, labels: Int32Array): Promise<TrainStepResult>;
  /**
   * @deprecated Pass the pixels and their shape as one `ImageBatchF32`:
   * `trainStep({ pixels: images, shape }, labels)`. This form keeps working through 0.x.
   */
  trainStep(images: Float32Array, shape: ImageShape, labels: Int32Array): Promise<TrainStepResult>;
  async trainStep(...args: InputArgs<[labels: Int32Array]>): Promise<TrainStepResult> {
    const [input, labels] = currentInputArgs(args);
    const native = this.#alive();
    this.#requireOptimizer();
    const x = this.#input(input);
    this.#checkLabels(labels, x.n);
    if (x.kind === 'f32') return callNative(() => native.trainStep(x.pixels, x.shape, labels));
    const batch = this.#deviceBatch(x);
    return callNative(() => native.trainStepU8(batch, labels));
  }

  /**
   * @internal The stacked group step of this model and `others` (use `trainStepGrouped`,
   * grouped-step.ts): one result per model, this one first, or the error of its step.
   */
  async trainStepWith(
    others: readonly Model[],
    input: ModelInput,
    labels: Int32Array,
  ): Promise<(TrainStepResult | VptError)[]> {
    const native = this.#alive();
    this.#requireOptimizer();
    const natives = others.map((m) => {
      m.#requireOptimizer();
      return m.#alive();
    });
    const x = this.#input(input);
    this.#checkLabels(labels, x.n);
    for (const m of others) m.#checkLabels(labels, x.n);
    const results = await callNative(() =>
      x.kind === 'f32'
        ? native.trainStepGrouped(x.pixels, x.shape, labels, natives)
        : native.trainStepGrouped(this.#deviceBatch(x), labels, natives),
    );
    return results.map((r) => ('error' in r ? fromNative(r.error) : r));
  }

  /**
   * Copies a loader's uint8 batch to the model's device ahead of its step. On CUDA the pixels
   * go through pinned memory and a separate stream without waiting for the model, so uploading
   * batch k+1 while step k runs hides the host-to-device copy; on the CPU nothing is copied.
   * Train and evaluate calls take the result wherever they take the batch.
   * @example
   * ```ts
   * let next = model.upload(first.images);
   * const r = await model.trainStep(await next, first.labels);
   * ```
   */
  async upload(batch: ImageBatchU8): Promise<StagedBatch> {
    const native = this.#alive();
    const b = this.#nativeBatch(batch);
    const target: NativeStagedBatch = new (loadAddon().addon.NativeStagedBatch)();
    await callNative(() => native.uploadU8(b, target));
    return new StagedBatch(target, batch, this);
  }

  /**
   * Whether the train step runs as a CUDA graph (`configureOptimizer({ cudaGraphs: true })`):
   * captures, replays, and why the last step ran eagerly if it did.
   */
  graphStatus(): GraphStatus {
    this.#requireOptimizer();
    const native = this.#alive();
    return callNativeSync(() => native.graphStatus());
  }

  /**
   * Data-parallel training: the trainable tensors become rank 0's, and from now on every
   * training step all-reduces gradients, loss and counts over the group, so each rank trains on
   * its share of a global batch exactly as one process would on the whole batch.
   * @example
   * ```ts
   * const group = await ProcessGroup.join(distributedFromEnv()!);
   * await model.attachProcessGroup(group);
   * ```
   */
  async attachProcessGroup(group: ProcessGroup): Promise<void> {
    const native = this.#alive();
    await callNative(() => native.attachProcessGroup(group.native));
  }

  /**
   * The dropout generator's state. `saveState` stores this process's; a data-parallel train
   * loop gathers every rank's so a resumed run continues each rank's own stream.
   */
  rngState(): Uint8Array {
    const native = this.#alive();
    return callNativeSync(() => native.rngState());
  }

  /** Restores a state from `rngState()` (same device type). */
  setRngState(state: Uint8Array): void {
    const native = this.#alive();
    callNativeSync(() => native.setRngState(state));
  }

  /** Data-parallel: the next training step reports `stop: true` on every rank (an orderly stop at one step). */
  voteStop(): void {
    this.#requireOptimizer();
    const native = this.#alive();
    callNativeSync(() => native.voteStop());
  }

  /**
   * Linear probing on precomputed backbone features (from `features()`): one head-only step.
   * Gives the same update as `trainStep` on the images the features came from (no prompts, no
   * dropout in linear probing), without running the backbone again.
   * @param features n x embedDim, row-major
   * @example
   * ```ts
   * const feats = await model.features(images, [16, 3, 224, 224]);
   * await model.trainStepFeatures(feats, labels);
   * ```
   */
  async trainStepFeatures(features: Float32Array, labels: Int32Array): Promise<TrainStepResult> {
    const native = this.#alive();
    this.#requireOptimizer();
    if (this.#spec.transfer !== 'linear') {
      throw new VptError(ErrorCode.Training, 'trainStepFeatures is linear probing only (transfer "linear")');
    }
    const D = this.#spec.architecture.embedDim;
    if (!(features instanceof Float32Array) || features.length !== labels.length * D) {
      throw new VptError(ErrorCode.Shape, `features must be a Float32Array of ${labels.length} x ${D} values`);
    }
    this.#checkLabels(labels, labels.length);
    return callNative(() => native.trainStepFeatures(features, [labels.length, D], labels));
  }

  /**
   * Loss, top-1 and top-5 of a labelled batch (any `ModelInput`), in inference mode.
   * @param labels class indices 0..numClasses-1, one per image
   * @example
   * ```ts
   * const { top1, top5 } = await model.evaluate({ pixels: images, shape: [16, 3, 224, 224] }, labels);
   * const r = await model.evaluate(batch.images, batch.labels, { logits: true });
   * ```
   */
  evaluate(input: ModelInput, labels: Int32Array, options?: EvaluateBatchOptions): Promise<EvaluateResult>;
  /**
   * @deprecated Pass the pixels and their shape as one `ImageBatchF32`:
   * `evaluate({ pixels: images, shape }, labels, options)`. This form keeps working through 0.x.
   */
  evaluate(
    images: Float32Array,
    shape: ImageShape,
    labels: Int32Array,
    options?: EvaluateBatchOptions,
  ): Promise<EvaluateResult>;
  async evaluate(...args: InputArgs<[labels: Int32Array, options?: EvaluateBatchOptions]>): Promise<EvaluateResult> {
    const [input, labels, options] = currentInputArgs(args);
    const native = this.#alive();
    const x = this.#input(input);
    this.#checkLabels(labels, x.n);
    const keepLogits = options?.logits === true;
    const r =
      x.kind === 'f32'
        ? await callNative(() => native.evaluate(x.pixels, x.shape, labels, keepLogits))
        : await callNative(() => native.evaluateU8(this.#deviceBatch(x), labels, keepLogits));
    return { ...r, top1: r.correct1 / r.count, top5: r.correct5 / r.count };
  }

  /**
   * Saves everything needed to resume training exactly (trainable tensors, optimizer state,
   * step, RNG state) to one safetensors file, atomically. `run` is stored verbatim and
   * returned by `loadState` (the train loop keeps its position there).
   * @example
   * ```ts
   * await model.saveState('runs/cub/last.state.safetensors');
   * ```
   */
  async saveState(path: string, run?: Record<string, unknown>): Promise<void> {
    const native = this.#alive();
    const optimizer = this.#requireOptimizer();
    const state = await callNative(() => native.exportState());
    await writeTrainingState(path, state, optimizer, this.#metadata(), run);
  }

  /**
   * Restores a training state saved by `saveState` (configuring the optimizer it was saved with).
   * @returns the optimizer steps taken, the skipped (non-finite) steps, and the saved `run` record
   * @example
   * ```ts
   * await model.loadState('runs/cub/last.state.safetensors');
   * ```
   */
  async loadState(path: string): Promise<{ step: number; nonfiniteTotal: number; run?: Record<string, unknown> }> {
    const native = this.#alive();
    const { state, optimizer: saved, run } = await readTrainingState(path, this.#metadata());
    // CUDA graphs are how this process runs, not state: the current choice stays.
    const optimizer = { ...saved, cudaGraphs: this.#optimizer?.cudaGraphs ?? false };
    // One native call checks everything, then replaces tensors, optimizer and generator
    // together: a file that does not fit leaves the model as it was.
    await callNative(() => native.importState({ ...state, optimizer }));
    this.#optimizer = { ...optimizer };
    return { step: state.step, nonfiniteTotal: state.nonfiniteTotal, ...(run ? { run } : {}) };
  }

  /** The optimizer settings in force (lr included), or undefined before `configureOptimizer`. */
  get optimizer(): Readonly<NativeOptimizerConfig> | undefined {
    return this.#optimizer ? { ...this.#optimizer } : undefined;
  }

  /**
   * The frozen backbone's tensors (copies), under their timm names. For checks and export.
   * @example
   * ```ts
   * const before = await model.backboneTensors();
   * ```
   */
  async backboneTensors(): Promise<NativeTensor[]> {
    const native = this.#alive();
    return callNative(() => native.exportBackbone());
  }

  /** Which tensors hold gradient buffers now, and which backbone tensors require grad. */
  gradientState(): { withGrad: string[]; backboneRequiresGrad: string[] } {
    const native = this.#alive();
    return callNativeSync(() => native.gradientState());
  }

  /**
   * Describes the model: architecture, sizes, parameter counts, device.
   * @example
   * ```ts
   * console.log(model.info().trainableParams);
   * ```
   */
  info(): ModelInfo {
    const native = this.#alive();
    const n = callNativeSync(() => native.info());
    const a = this.#spec.architecture;
    return {
      arch: a.arch,
      embedDim: a.embedDim,
      depth: a.depth,
      heads: a.numHeads,
      patchSize: a.patchSize,
      imageSize: this.#spec.imageSize,
      numClasses: this.#spec.numClasses,
      transfer: this.#spec.transfer,
      prompt: this.#spec.prompt,
      mlpLayers: this.#spec.mlpLayers,
      ...(this.#spec.transfer === 'adapter' ? { adapterReduction: this.#spec.adapterReduction ?? 8 } : {}),
      trainableParams: n.trainableParams,
      totalParams: n.totalParams,
      device: n.device,
      mean: a.mean,
      std: a.std,
      classNames: this.#spec.classNames,
      precision: this.#spec.precision,
      backboneDtype: n.backboneDtype,
      backboneBytes: n.backboneBytes,
      fusedLayerNorm: n.fusedLayerNorm,
      backboneShared: n.backboneShared,
      backboneStorage: n.backboneKey,
      stemBlocks: n.stemBlocks,
      skipDiscardedPromptRows: this.#spec.skipDiscardedPromptRows ?? false,
    };
  }

  /** Frees native memory. Calls already running finish; later calls throw VPT_DISPOSED. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }

  /** True once `dispose()` was called. */
  get disposed(): boolean {
    return this.#native === undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  /** @internal The native model of `model` (createModelSharingBackbone hands it to the new model). */
  static nativeOf(model: Model): NativeModel {
    return model.#alive();
  }

  #alive(): NativeModel {
    if (!this.#native) throw new VptError(ErrorCode.Disposed, 'the model was disposed');
    return this.#native;
  }

  #requireOptimizer(): NativeOptimizerConfig {
    if (!this.#optimizer) throw new VptError(ErrorCode.Training, 'call configureOptimizer() before training');
    return this.#optimizer;
  }

  /**
   * Labels are a call argument: a value out of range is VPT_OPTION (the code errors.ts gives an
   * invalid value passed to the API, named in the message); VPT_ARGUMENT is for a malformed
   * argument that got past this check to the native layer. A wrong type or count is VPT_SHAPE.
   */
  #checkLabels(labels: Int32Array, n: number): void {
    if (!(labels instanceof Int32Array))
      throw new VptError(ErrorCode.Shape, 'labels must be an Int32Array of class indices');
    if (labels.length !== n)
      throw new VptError(ErrorCode.Shape, `got ${labels.length} labels for a batch of ${n} images`);
    const C = this.#spec.numClasses;
    const bad = labels.findIndex((y) => y < 0 || y >= C);
    if (bad >= 0)
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "labels[${bad}]": expected a class index in 0..${C - 1}, got ${labels[bad]}`,
      );
  }

  /** Checks a batch against the model (shape, crops, owner) and tells its form. */
  #input(input: ModelInput): CheckedInput {
    if (input instanceof StagedBatch) {
      if (input.owner !== this) {
        throw new VptError(
          ErrorCode.Option,
          'Invalid option "input": the staged batch was uploaded by another model (stage it with this model\'s upload())',
        );
      }
      return { kind: 'staged', staged: input, n: input.size };
    }
    if (isImageBatchF32(input)) {
      this.#checkImages(input.pixels, input.shape);
      return { kind: 'f32', pixels: input.pixels, shape: [...input.shape], n: input.shape[0] };
    }
    const batch = this.#nativeBatch(input);
    return { kind: 'u8', batch, n: batch.shape[0]! };
  }

  /** A uint8 or staged batch as the device-side train and evaluate calls take it. */
  #deviceBatch(x: Exclude<CheckedInput, { kind: 'f32' }>): NativeImageBatchU8 | NativeStagedBatch {
    return x.kind === 'staged' ? x.staged.native : x.batch;
  }

  /** A uint8 or staged batch as a host batch (the native forward and preprocess take no staged batch). */
  #hostBatch(x: Exclude<CheckedInput, { kind: 'f32' }>): NativeImageBatchU8 {
    if (x.kind === 'u8') return x.batch;
    if (x.staged.disposed) throw new VptError(ErrorCode.Disposed, 'the staged batch was disposed');
    return this.#nativeBatch(x.staged.batch);
  }

  /** Checks a uint8 batch against the model and adds the mean/std the device normalizes with. */
  #nativeBatch(batch: ImageBatchU8): NativeImageBatchU8 {
    checkImageBatchU8(batch, this.#spec.imageSize);
    const a = this.#spec.architecture;
    return {
      pixels: batch.pixels,
      shape: [...batch.shape],
      crops: batch.crops,
      flips: batch.flips,
      cropSize: batch.cropSize,
      mean: a.mean,
      std: a.std,
    };
  }

  #checkImages(images: Float32Array, shape: ImageShape): void {
    if (!(images instanceof Float32Array)) {
      throw new VptError(ErrorCode.Shape, 'images must be a Float32Array of normalized NCHW pixels');
    }
    const s = this.#spec.imageSize;
    const ok =
      Array.isArray(shape) &&
      shape.length === 4 &&
      shape.every((d) => Number.isSafeInteger(d) && d > 0) &&
      shape[1] === 3 &&
      shape[2] === s &&
      shape[3] === s;
    if (!ok) {
      throw new VptError(ErrorCode.Shape, `images have shape [${String(shape)}]; this model needs [n, 3, ${s}, ${s}]`);
    }
    const expected = shape[0] * 3 * s * s;
    if (images.length !== expected) {
      throw new VptError(
        ErrorCode.Shape,
        `images hold ${images.length} floats but shape [${shape.join(', ')}] needs ${expected}`,
      );
    }
  }

  #metadata(): TrainableMetadata {
    const a = this.#spec.architecture;
    return {
      format: TRAINABLE_FORMAT,
      version: TRAINABLE_VERSION,
      arch: a.tag ? `${a.arch}.${a.tag}` : a.arch,
      embedDim: a.embedDim,
      depth: a.depth,
      patchSize: a.patchSize,
      imageSize: this.#spec.imageSize,
      transfer: this.#spec.transfer,
      prompt: this.#spec.prompt,
      numClasses: this.#spec.numClasses,
      headHiddenLayers: this.#spec.mlpLayers,
      ...(this.#spec.transfer === 'adapter' ? { adapterReduction: this.#spec.adapterReduction ?? 8 } : {}),
      classNames: this.#spec.classNames,
      mean: a.mean,
      std: a.std,
      backboneDtype: this.#spec.backboneDtype,
      ...(this.#spec.poolPrompts ? { poolPrompts: true } : {}),
      ...(this.#spec.selfSupervised ? { selfSupervised: this.#spec.selfSupervised } : {}),
      ...this.#backbone(),
    };
  }

  /** The backbone's fingerprint for `__metadata__.vpt.backbone`. */
  #backbone(): { backbone?: BackboneFingerprint } {
    const f = this.#alive().backboneFingerprint();
    if (!f) return {};
    const a = this.#spec.architecture;
    return { backbone: { arch: a.tag ? `${a.arch}.${a.tag}` : a.arch, ...f } };
  }
}

/**
 * A state from before `mlpLayers` was VPT's MLP head (hidden layers without BatchNorm) does not
 * fit: `error` with that said, when `tensors` has hidden layers but no norm tensors.
 */
function withOldMlpHeadHint(error: unknown, path: string, tensors: NativeTensor[]): unknown {
  const names = new Set(tensors.map((t) => t.name));
  if (!(error instanceof VptError) || !names.has('head.layers.0.weight') || names.has('head.layers.0.norm.weight'))
    return error;
  return new VptError(
    error.code,
    `${path}: ${error.message} -- it was saved before mlpLayers became VPT's MLP head (Linear, ReLU, BatchNorm, dropout): its hidden layers have no BatchNorm; train it again`,
    { cause: error },
  );
}

/** A float batch: its pixels are a Float32Array (a uint8 batch's are a Uint8Array). */
function isImageBatchF32(input: ModelInput): input is ImageBatchF32 {
  return typeof input === 'object' && input !== null && (input as { pixels?: unknown }).pixels instanceof Float32Array;
}
