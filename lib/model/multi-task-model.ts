/**
 * `MultiTaskModel`: one frozen backbone, many tasks (trainable-state files: prompts and head),
 * and a forward in which every image-task request gets its own task's prompts and head, in one
 * pass over the backbone per prompt shape (native/model/multi_task_forward.h). A task costs its
 * prompts and head, not another backbone.
 */
import { loadAddon, type NativeMultiTaskModel, type NativeTensor } from '../binding.js';
import { checkImageBatchU8, type ImageBatchU8 } from '../data/image-batch.js';
import { callNative, callNativeSync, ErrorCode, VptError } from '../errors.js';
import { runtimeInfo } from '../runtime-info.js';
import { checkArchitectureAgainstWeights, resolveArchitecture, type VitArchitecture } from '../weights/architecture.js';
import { openCheckpoint } from '../weights/checkpoint.js';
import { resolveWeights } from '../weights/resolve-weights.js';
import { readSafetensors } from '../weights/safetensors.js';
import { isSwinArch } from '../weights/swin-archs.js';
import { rejectTransformersTensors } from '../weights/transformers-checkpoint.js';
import { type BackboneFingerprint, checkBackboneFingerprint } from './backbone-fingerprint.js';
import { fullPromptOptions, type PromptOptions } from './options.js';
import { selfSupervisedArchitecture } from './self-supervised.js';
import { checkTrainableMetadata, TRAINABLE_FORMAT, type TrainableMetadata } from './trainable-state.js';

export interface MultiTaskModelOptions {
  /** The backbone every task was trained on (as `createModel`'s `weights`). */
  weights: string;
  /** The timm architecture, when the weights have no config.json. */
  arch?: string;
  /** The image size the tasks run at (default: the architecture's). */
  imageSize?: number;
  /** `cpu`, `cuda` or `cuda:N` (default: cuda when available). */
  device?: string;
}

/** A task loaded into a `MultiTaskModel`. */
export interface TaskInfo {
  name: string;
  /** Its index in forward requests. */
  index: number;
  /** The trainable-state file it came from. */
  path: string;
  numClasses: number;
  /** Class names (the state's, else "0", "1", ...). */
  classNames: string[];
  transfer: 'prompt' | 'linear';
  prompt: PromptOptions | null;
  mlpLayers: number;
  /** Bytes its prompts and head take on the device. */
  bytes: number;
}

/** One request of a forward: image `image` of the batch, classified by task `task` (a name or an index). */
export interface TaskRequest {
  image: number;
  task: string | number;
}

export class MultiTaskModel {
  #native: NativeMultiTaskModel | undefined;
  readonly #architecture: VitArchitecture;
  readonly #imageSize: number;
  readonly #fingerprint: BackboneFingerprint;
  readonly #tasks: TaskInfo[] = [];

  private constructor(
    native: NativeMultiTaskModel,
    architecture: VitArchitecture,
    imageSize: number,
    fingerprint: BackboneFingerprint,
  ) {
    this.#native = native;
    this.#architecture = architecture;
    this.#imageSize = imageSize;
    this.#fingerprint = fingerprint;
  }

  /**
   * Loads the backbone once; tasks are added with `addTask`.
   * @example
   * ```ts
   * const model = await MultiTaskModel.create({ weights: 'models/vit_b16' });
   * await model.addTask('cub', 'runs/cub/best.safetensors');
   * await model.addTask('dogs', 'runs/dogs/best.safetensors');
   * ```
   */
  static async create(o: MultiTaskModelOptions): Promise<MultiTaskModel> {
    const resolved = await resolveWeights(o.weights);
    const checkpoint = await openCheckpoint(resolved.weightsPath);
    try {
      rejectTransformersTensors(
        checkpoint.entries.map((e) => e.name),
        resolved.weightsPath,
      );
      const named = o.arch ?? (typeof resolved.config?.architecture === 'string' ? resolved.config.architecture : '');
      if (isSwinArch(named)) {
        throw new VptError(
          ErrorCode.Option,
          `${resolved.weightsPath}: the multi-task forward serves ViT backbones only, not Swin ("${named}"); load a Swin task with createModel({ trainable })`,
        );
      }
      // A MoCo v3 checkpoint runs as createModel runs it (lib/model/self-supervised.ts).
      const architecture = selfSupervisedArchitecture(
        resolveArchitecture({
          ...(o.arch ? { arch: o.arch } : {}),
          ...(resolved.config ? { config: resolved.config } : {}),
          ...(resolved.configPath ? { configPath: resolved.configPath } : {}),
          ...(checkpoint.inferredArch ? { inferred: checkpoint.inferredArch } : {}),
        }),
        checkpoint.mocoV3 ? 'moco-v3' : undefined,
        resolved.config?.pretrained_cfg?.mean !== undefined,
      );
      checkArchitectureAgainstWeights(architecture, checkpoint.shape, resolved.weightsPath);
      const imageSize = o.imageSize ?? architecture.imgSize;
      if (!Number.isSafeInteger(imageSize) || imageSize < 1 || imageSize % architecture.patchSize !== 0) {
        throw new VptError(
          ErrorCode.Option,
          `Invalid option "imageSize": expected a multiple of the patch size ${architecture.patchSize}, got ${imageSize}`,
        );
      }
      const device = o.device ?? (runtimeInfo().cudaAvailable ? 'cuda' : 'cpu');
      const { addon } = loadAddon();
      const native = callNativeSync(
        () =>
          new addon.NativeMultiTaskModel({
            vit: { ...architecture, imgSize: imageSize },
            prompt: null,
            numClasses: 1,
            headHiddenLayers: 0,
            transfer: 'linear',
            device,
            seed: 0,
            precision: 'fp32',
            backboneDtype: 'float32',
            checkpointBlocks: false,
            fusedLayerNorm: false,
            skipDiscardedPromptRows: true,
          }),
      );
      try {
        const f = await callNative(() => native.loadBackbone(checkpoint.dataPath, checkpoint.entries));
        const arch = architecture.tag ? `${architecture.arch}.${architecture.tag}` : architecture.arch;
        return new MultiTaskModel(native, architecture, imageSize, { arch, ...f });
      } catch (error) {
        native.dispose();
        if (error instanceof VptError && error.code === ErrorCode.Weights) {
          throw new VptError(error.code, `${resolved.weightsPath}: ${error.message}`, { cause: error });
        }
        throw error;
      }
    } finally {
      await checkpoint.close();
    }
  }

  /**
   * Adds a task from a trainable-state file trained on this backbone (prompt tuning or linear
   * probing; a full fine-tuning state carries its own backbone and is refused).
   * @throws VptError VPT_BACKBONE when the state was trained on another backbone or
   *   architecture, VPT_SHAPE when it does not fit, VPT_OPTION for a name already taken
   * @example
   * ```ts
   * const cub = await model.addTask('cub', 'runs/cub/best.safetensors');
   * console.log(cub.numClasses, cub.bytes);
   * ```
   */
  async addTask(name: string, path: string): Promise<TaskInfo> {
    const native = this.#alive();
    if (typeof name !== 'string' || name === '' || this.#tasks.some((t) => t.name === name)) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "task": expected a new non-empty name, got ${JSON.stringify(name)}`,
      );
    }
    const { metadata, tensors } = await readSafetensors(path);
    const meta = this.#checkTask(path, metadata);
    const config = {
      prompt: meta.prompt
        ? { tokens: meta.prompt.tokens, deep: meta.prompt.deep ?? false, project: meta.prompt.project ?? 0 }
        : null,
      numClasses: meta.numClasses,
      headHiddenLayers: meta.headHiddenLayers,
    };
    const list: NativeTensor[] = [...tensors.values()];
    let index: number;
    try {
      index = await callNative(() => native.addTask(config, list));
    } catch (error) {
      if (error instanceof VptError) throw new VptError(error.code, `${path}: ${error.message}`, { cause: error });
      throw error;
    }
    const C = meta.numClasses;
    const names =
      Array.isArray(meta.classNames) && meta.classNames.length === C
        ? meta.classNames
        : Array.from({ length: C }, (_, i) => String(i));
    const task: TaskInfo = {
      name,
      index,
      path,
      numClasses: C,
      classNames: names,
      transfer: meta.transfer as 'prompt' | 'linear',
      prompt: meta.prompt,
      mlpLayers: meta.headHiddenLayers,
      bytes: callNativeSync(() => native.info()).taskBytes[index] ?? 0,
    };
    this.#tasks.push(task);
    return task;
  }

  /** The metadata of a task file, checked against this backbone. */
  #checkTask(path: string, metadata: Record<string, string>): TrainableMetadata {
    let meta: Partial<TrainableMetadata> | null;
    try {
      meta = JSON.parse(metadata.vpt ?? 'null') as Partial<TrainableMetadata> | null;
    } catch {
      meta = null;
    }
    if (!meta || meta.format !== TRAINABLE_FORMAT || typeof meta.numClasses !== 'number') {
      throw new VptError(ErrorCode.Shape, `${path} is not a vpt-native trainable-state file (no __metadata__.vpt)`);
    }
    checkBackboneFingerprint(path, meta.backbone, this.#fingerprint);
    if (meta.transfer === 'full') {
      throw new VptError(
        ErrorCode.Option,
        `${path} is a full fine-tuning state: it carries its own backbone, so it cannot share this one (serve prompt-tuning and linear-probing states)`,
      );
    }
    if (meta.transfer !== undefined && meta.transfer !== 'prompt' && meta.transfer !== 'linear') {
      // partial-k / bias change backbone tensors, adapter adds layers inside every block.
      const what =
        meta.transfer === 'adapter'
          ? 'adds adapters inside the backbone'
          : meta.transfer === 'sidetune'
            ? 'runs an AlexNet side network beside the backbone'
            : 'changes backbone tensors';
      throw new VptError(
        ErrorCode.Option,
        `${path} is a "${String(meta.transfer)}" state: it ${what}, so it cannot share this one (serve prompt-tuning and linear-probing states; load this task with createModel({ trainable }) instead)`,
      );
    }
    const unsupported = unsupportedTaskSettings(meta, this.#architecture);
    if (unsupported.length > 0) {
      throw new VptError(
        ErrorCode.Option,
        `${path} was trained with ${unsupported.join(', ')}: the multi-task forward serves prompts prepended after the class token (shallow or deep in every block) with CLS / average / MAP pooling of the image tokens; load this task with createModel({ trainable }) instead`,
      );
    }
    const a = this.#architecture;
    if (meta.imageSize !== this.#imageSize) {
      throw new VptError(
        ErrorCode.Shape,
        `${path} was trained at ${String(meta.imageSize)}x${String(meta.imageSize)}; this backbone runs at ${this.#imageSize}x${this.#imageSize}`,
      );
    }
    // The remaining fields as loadTrainable checks them: the task's own shape, against itself.
    return checkTrainableMetadata(path, metadata, {
      ...(meta as TrainableMetadata),
      embedDim: a.embedDim,
      depth: a.depth,
    });
  }

  /**
   * Logits for a batch of requests: request r classifies image `requests[r].image` of `batch`
   * (a uint8 batch, cropped and normalized on the device with the backbone's mean/std) with
   * task `requests[r].task`. Requests of several tasks, and several tasks of one image, share
   * the batch.
   * @returns one Float32Array of the task's numClasses logits per request
   * @example
   * ```ts
   * const [cub, dogs] = await model.forward(batch, [{ image: 0, task: 'cub' }, { image: 0, task: 'dogs' }]);
   * ```
   */
  async forward(batch: ImageBatchU8, requests: TaskRequest[]): Promise<Float32Array[]> {
    const native = this.#alive();
    checkImageBatchU8(batch, this.#imageSize);
    const { imageOf, taskOf, sizes } = this.#requests(requests, batch.shape[0]);
    const a = this.#architecture;
    const logits = await callNative(() =>
      native.forwardU8(
        {
          pixels: batch.pixels,
          shape: [...batch.shape],
          crops: batch.crops,
          flips: batch.flips,
          cropSize: batch.cropSize,
          mean: a.mean,
          std: a.std,
        },
        imageOf,
        taskOf,
      ),
    );
    return split(logits, sizes);
  }

  /**
   * `forward` on normalized (n, 3, S, S) float pixels.
   * @example
   * ```ts
   * const out = await model.forwardF32({ pixels, shape: [2, 3, 224, 224] }, [{ image: 1, task: 0 }]);
   * ```
   */
  async forwardF32(
    images: { pixels: Float32Array; shape: readonly [number, number, number, number] },
    requests: TaskRequest[],
  ): Promise<Float32Array[]> {
    const native = this.#alive();
    const S = this.#imageSize;
    const [n, c, h, w] = images.shape;
    if (
      !(images.pixels instanceof Float32Array) ||
      c !== 3 ||
      h !== S ||
      w !== S ||
      images.pixels.length !== n * 3 * S * S
    ) {
      throw new VptError(
        ErrorCode.Shape,
        `images have shape [${images.shape.join(', ')}]; this model needs [n, 3, ${S}, ${S}]`,
      );
    }
    const { imageOf, taskOf, sizes } = this.#requests(requests, n);
    const logits = await callNative(() => native.forward(images.pixels, [...images.shape], imageOf, taskOf));
    return split(logits, sizes);
  }

  #requests(requests: TaskRequest[], images: number): { imageOf: Int32Array; taskOf: Int32Array; sizes: number[] } {
    if (!Array.isArray(requests) || requests.length === 0) {
      throw new VptError(ErrorCode.Option, 'Invalid option "requests": expected at least one { image, task }');
    }
    const imageOf = new Int32Array(requests.length);
    const taskOf = new Int32Array(requests.length);
    const sizes: number[] = [];
    requests.forEach((r, i) => {
      const task = this.task(r.task);
      if (!Number.isSafeInteger(r.image) || r.image < 0 || r.image >= images) {
        throw new VptError(
          ErrorCode.Option,
          `Invalid option "requests[${i}].image": expected an image index in 0..${images - 1}, got ${String(r.image)}`,
        );
      }
      imageOf[i] = r.image;
      taskOf[i] = task.index;
      sizes.push(task.numClasses);
    });
    return { imageOf, taskOf, sizes };
  }

  /** A task by name or index. @throws VptError (VPT_OPTION) naming the unknown task */
  task(task: string | number): TaskInfo {
    const found = typeof task === 'number' ? this.#tasks[task] : this.#tasks.find((t) => t.name === task);
    if (!found) {
      throw new VptError(
        ErrorCode.Option,
        `Invalid option "task": no task ${JSON.stringify(task)} (tasks: ${this.#tasks.map((t) => t.name).join(', ') || 'none'})`,
      );
    }
    return found;
  }

  /** Every task, in index order. */
  get tasks(): readonly TaskInfo[] {
    return this.#tasks;
  }

  get fingerprint(): BackboneFingerprint {
    return { ...this.#fingerprint };
  }

  get architecture(): VitArchitecture {
    return this.#architecture;
  }

  get imageSize(): number {
    return this.#imageSize;
  }

  /** Device and bytes of the backbone on it. */
  info(): { device: string; backboneBytes: number } {
    const { device, backboneBytes } = callNativeSync(() => this.#alive().info());
    return { device, backboneBytes };
  }

  /** Frees native memory. Calls already running finish; later calls throw VPT_DISPOSED. */
  dispose(): void {
    this.#native?.dispose();
    this.#native = undefined;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.dispose();
  }

  #alive(): NativeMultiTaskModel {
    if (!this.#native) throw new VptError(ErrorCode.Disposed, 'the model was disposed');
    return this.#native;
  }
}

/** Consecutive slices of `values`, `sizes[i]` long each. */
function split(values: Float32Array, sizes: number[]): Float32Array[] {
  const out: Float32Array[] = [];
  let offset = 0;
  for (const n of sizes) {
    out.push(values.subarray(offset, offset + n));
    offset += n;
  }
  return out;
}

/** The settings of a task file that the multi-task forward does not compute (their names). */
function unsupportedTaskSettings(meta: Partial<TrainableMetadata>, backbone: VitArchitecture): string[] {
  const out: string[] = [];
  if (meta.poolPrompts) out.push('poolPrompts');
  // MAE's average pooling + fc_norm is not the shared backbone's pooling.
  if (meta.selfSupervised === 'mae') out.push('selfSupervised="mae"');
  if (meta.prompt) {
    const p = fullPromptOptions(meta.prompt);
    const defaults = fullPromptOptions({ tokens: p.tokens, deep: p.deep, dropout: p.dropout, project: p.project });
    for (const key of ['deepLayers', 'reverseDeep', 'deepShared', 'deepNoExpand', 'pool', 'location'] as const) {
      if (p[key] !== defaults[key]) out.push(`prompt.${key}=${JSON.stringify(p[key])}`);
    }
  }
  // One batch is normalized once, with the backbone's mean / std (normalize 'timm').
  const same = (a: readonly number[] | undefined, b: readonly number[]) =>
    a === undefined || (a.length === b.length && a.every((v, i) => Math.abs(v - b[i]!) < 1e-7));
  if (!same(meta.mean, backbone.mean) || !same(meta.std, backbone.std)) {
    out.push(
      `normalization mean ${JSON.stringify(meta.mean)} / std ${JSON.stringify(meta.std)} (the backbone's is ${JSON.stringify(backbone.mean)} / ${JSON.stringify(backbone.std)})`,
    );
  }
  return out;
}
