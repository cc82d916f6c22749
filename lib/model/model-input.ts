/**
 * `ModelInput`: the one batch type that `Model`'s batch methods (`forward`, `features`,
 * `trainStep`, `evaluate`) take, so that every call is `(input, labels?, options?)`.
 */
import type { ImageBatchU8 } from '../data/image-batch.js';
import type { StagedBatch } from './staged-batch.js';

/** Shape of a float image batch: [n, 3, height, width]. */
export type ImageShape = readonly [number, number, number, number];

/**
 * A batch of images the caller has already cropped, resized and normalized (with the model's
 * mean/std): NCHW float32 pixels and their shape.
 * @example
 * ```ts
 * const input: ImageBatchF32 = { pixels: new Float32Array(2 * 3 * 224 * 224), shape: [2, 3, 224, 224] };
 * const logits = await model.forward(input);
 * ```
 */
export interface ImageBatchF32 {
  /** n x 3 x height x width floats, row-major. */
  pixels: Float32Array;
  /** [n, 3, height, width]; height and width are the model's image size. */
  shape: ImageShape;
}

/**
 * A batch for `Model`'s batch methods, in any of the forms they take:
 * - `ImageBatchF32`: normalized NCHW floats with their shape;
 * - `ImageBatchU8`: a loader's uint8 batch (cropped, flipped and normalized on the device);
 * - `StagedBatch`: a uint8 batch this model already copied to its device (`model.upload`).
 * @example
 * ```ts
 * await model.trainStep({ pixels: images, shape: [16, 3, 224, 224] }, labels);
 * for await (const batch of loader.epoch(0)) await model.trainStep(batch.images, batch.labels);
 * await model.evaluate(await model.upload(batch.images), batch.labels);
 * ```
 */
export type ModelInput = ImageBatchF32 | ImageBatchU8 | StagedBatch;

/**
 * Arguments of a batch method in the current form, `(input, ...rest)`, or in the deprecated
 * one that passed the float pixels and their shape as two arguments, `(images, shape, ...rest)`.
 */
export type InputArgs<Rest extends unknown[]> =
  | [input: ModelInput, ...rest: Rest]
  | [images: Float32Array, shape: ImageShape, ...rest: Rest];

/**
 * Turns the deprecated `(images, shape, ...rest)` form into `({ pixels: images, shape }, ...rest)`;
 * the current form passes through. (No `ModelInput` is a Float32Array, so the first argument
 * tells the two apart.)
 */
export function currentInputArgs<Rest extends unknown[]>(args: InputArgs<Rest>): [ModelInput, ...Rest] {
  if (args[0] instanceof Float32Array) {
    const [pixels, shape, ...rest] = args as [Float32Array, ImageShape, ...Rest];
    return [{ pixels, shape }, ...rest];
  }
  return args as [ModelInput, ...Rest];
}
