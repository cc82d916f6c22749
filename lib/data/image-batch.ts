/**
 * `ImageBatchU8`: what the loader hands the model. Decoded, resized uint8 pixels plus the crop
 * and flip each image gets; the model's device crops, flips and normalizes (native/data/augment.cc).
 */
import { ErrorCode, VptError } from '../errors.js';

export interface ImageBatchU8 {
  /** (n, h, w, 3) RGB, row-major. */
  pixels: Uint8Array;
  shape: [n: number, h: number, w: number, c: 3];
  /** n x 2: the top and left of each image's crop. */
  crops: Int32Array;
  /** n: 1 = mirror the crop horizontally. */
  flips: Uint8Array;
  /** Side of the square crops; the model's image size. */
  cropSize: number;
}

/**
 * Checks a batch against a model running at `imageSize`: types, lengths, and that every crop
 * lies inside its image.
 * @throws VptError (VPT_SHAPE) naming the field or image at fault
 */
export function checkImageBatchU8(batch: ImageBatchU8, imageSize: number): void {
  const fail = (message: string): never => {
    throw new VptError(ErrorCode.Shape, `uint8 image batch: ${message}`);
  };
  if (batch === null || typeof batch !== 'object') fail('expected { pixels, shape, crops, flips, cropSize }');
  const { pixels, shape, crops, flips, cropSize } = batch;
  if (!(pixels instanceof Uint8Array)) fail('pixels must be a Uint8Array');
  if (
    !(
      Array.isArray(shape) &&
      shape.length === 4 &&
      shape.every((d) => Number.isSafeInteger(d) && d > 0) &&
      shape[3] === 3
    )
  ) {
    fail(`shape must be [n, h, w, 3], got [${String(shape)}]`);
  }
  const [n, h, w] = shape;
  if (pixels.length !== n * h * w * 3)
    fail(`pixels hold ${pixels.length} bytes but shape [${shape.join(', ')}] needs ${n * h * w * 3}`);
  if (!(crops instanceof Int32Array) || crops.length !== 2 * n)
    fail(`crops must be an Int32Array of ${2 * n} (top, left) values`);
  if (!(flips instanceof Uint8Array) || flips.length !== n) fail(`flips must be a Uint8Array of ${n} values`);
  if (cropSize !== imageSize) fail(`cropSize is ${String(cropSize)} but the model runs at ${imageSize}x${imageSize}`);
  if (cropSize > h || cropSize > w) fail(`${cropSize}-pixel crops do not fit ${h}x${w} images`);
  for (let i = 0; i < n; i++) {
    const top = crops[2 * i]!,
      left = crops[2 * i + 1]!;
    if (top < 0 || left < 0 || top + cropSize > h || left + cropSize > w) {
      fail(`image ${i}: crop at (top ${top}, left ${left}) leaves the ${h}x${w} image`);
    }
  }
}
