/**
 * `Model`: a prompted ViT living in native memory. Every heavy method runs off the JS thread
 * and returns a Promise; errors are VptErrors with a stable `code`.
 */
import type { NativeModel } from '../binding.js';
import { ErrorCode, VptError, callNative } from '../errors.js';
import type { VitArchitecture } from '../weights/architecture.js';
import type { PromptOptions } from './options.js';
import { type TrainableMetadata, TRAINABLE_FORMAT, TRAINABLE_VERSION, readTrainableState, writeTrainableState } from './trainable-state.js';

/** Shape of an image batch: [n, 3, height, width]. */
export type ImageShape = readonly [number, number, number, number];

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
  transfer: 'prompt' | 'linear' | 'full';
  prompt: PromptOptions | null;
  mlpLayers: number;
  /** Parameters the transfer mode trains (prompts, projection, head; all for `full`). */
  trainableParams: number;
  totalParams: number;
  /** `cpu`, `cuda` or `cuda:N`. */
  device: string;
  mean: [number, number, number];
  std: [number, number, number];
  classNames: string[] | null;
}

/** Everything `Model` needs from createModel. */
export interface ModelSpec {
  architecture: VitArchitecture;
  imageSize: number;
  numClasses: number;
  transfer: 'prompt' | 'linear' | 'full';
  prompt: PromptOptions | null;
  mlpLayers: number;
  classNames: string[] | null;
}

export class Model {
  #native: NativeModel | undefined;
  readonly #spec: ModelSpec;

  /** @internal Use `createModel`. */
  constructor(native: NativeModel, spec: ModelSpec) {
    this.#native = native;
    this.#spec = { ...spec };
  }

  /**
   * Class logits for a batch of normalized NCHW images.
   * @returns n x numClasses logits, row-major
   * @example
   * ```ts
   * const logits = await model.forward(images, [2, 3, 224, 224]);
   * ```
   */
  async forward(images: Float32Array, shape: ImageShape): Promise<Float32Array> {
    const native = this.#alive();
    this.#checkImages(images, shape);
    return callNative(() => native.forward(images, [...shape]));
  }

  /**
   * Pooled backbone features (the head's input) for a batch of normalized NCHW images.
   * @returns n x embedDim features, row-major
   * @example
   * ```ts
   * const feats = await model.features(images, [2, 3, 224, 224]);
   * ```
   */
  async features(images: Float32Array, shape: ImageShape): Promise<Float32Array> {
    const native = this.#alive();
    this.#checkImages(images, shape);
    return callNative(() => native.features(images, [...shape]));
  }

  /**
   * Saves the trainable tensors (prompts, projection, head) to a safetensors file, atomically.
   * @example
   * ```ts
   * await model.saveTrainable('runs/cub/trainable.safetensors');
   * ```
   */
  async saveTrainable(path: string): Promise<void> {
    const native = this.#alive();
    const tensors = await callNative(() => native.exportTrainable());
    await writeTrainableState(path, tensors, this.#metadata());
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
    await callNative(() => native.importTrainable(tensors));
    if (!this.#spec.classNames && Array.isArray(metadata.classNames) && metadata.classNames.length === this.#spec.numClasses) {
      this.#spec.classNames = metadata.classNames;
    }
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
    const n = native.info();
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
      trainableParams: n.trainableParams,
      totalParams: n.totalParams,
      device: n.device,
      mean: a.mean,
      std: a.std,
      classNames: this.#spec.classNames,
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

  #alive(): NativeModel {
    if (!this.#native) throw new VptError(ErrorCode.Disposed, 'the model was disposed');
    return this.#native;
  }

  #checkImages(images: Float32Array, shape: ImageShape): void {
    if (!(images instanceof Float32Array)) {
      throw new VptError(ErrorCode.Shape, 'images must be a Float32Array of normalized NCHW pixels');
    }
    const s = this.#spec.imageSize;
    const ok = Array.isArray(shape) && shape.length === 4 && shape.every((d) => Number.isSafeInteger(d) && d > 0) &&
      shape[1] === 3 && shape[2] === s && shape[3] === s;
    if (!ok) {
      throw new VptError(ErrorCode.Shape, `images have shape [${String(shape)}]; this model needs [n, 3, ${s}, ${s}]`);
    }
    const expected = shape[0] * 3 * s * s;
    if (images.length !== expected) {
      throw new VptError(ErrorCode.Shape, `images hold ${images.length} floats but shape [${shape.join(', ')}] needs ${expected}`);
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
      classNames: this.#spec.classNames,
      mean: a.mean,
      std: a.std,
    };
  }
}
