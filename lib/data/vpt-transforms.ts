/**
 * The geometry of VPT's FGVC transforms (torchvision, as in VPT's `src/data/transforms.py`):
 *
 *   train: Resize(resize) -> RandomCrop(crop) -> RandomHorizontalFlip(0.5) -> ToTensor -> Normalize
 *   eval:  Resize(resize) -> CenterCrop(crop) -> ToTensor -> Normalize
 *
 * `Resize(int)` scales the shorter side to `resize`. The host resizes (decode-image.ts); the
 * crop, flip and normalization run on the model's device (native/data/augment.cc) at the offsets
 * computed here.
 *
 * VTAB-1k (the loader's `preprocess: 'vtab'`) has no geometry to decide:
 *
 *   train and eval: Resize((crop, crop), BICUBIC) -> ToTensor -> Normalize
 *
 * so the host resizes to exactly crop x crop (decode-image.ts, fit 'fill') and the crop is the
 * whole image at (0, 0), never flipped.
 */
import type { SeededRandom } from './seeded-random.js';

/**
 * The resize VPT pairs with a crop size: 224 -> 256, 384 -> 438, 448 -> 512, which is
 * floor(crop * 8 / 7); other crop sizes follow the same rule (32 -> 36, 64 -> 73).
 * @example
 * ```ts
 * resizeFor(224); // 256
 * ```
 */
export function resizeFor(cropSize: number): number {
  return Math.floor((cropSize * 8) / 7);
}

/**
 * The size torchvision's `Resize(shorter)` gives a width x height image: the shorter side
 * becomes `shorter`, the longer `int(shorter * long / short)`.
 */
export function resizedSize(width: number, height: number, shorter: number): { width: number; height: number } {
  if (width <= height) {
    return width === shorter ? { width, height } : { width: shorter, height: Math.floor((shorter * height) / width) };
  }
  return height === shorter ? { width, height } : { width: Math.floor((shorter * width) / height), height: shorter };
}

/** Python's round(): halves go to the even neighbour. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torchvision's CenterCrop offset along one side: int(round((size - crop) / 2)). */
export function centerCropOffset(size: number, crop: number): number {
  return roundHalfEven((size - crop) / 2);
}

/** Where a crop of an image falls, and whether it is mirrored. */
export interface CropDecision {
  top: number;
  left: number;
  flip: boolean;
}

/**
 * The crop (and flip) of one image: uniform RandomCrop offsets and a fair coin for training,
 * the centre without flip otherwise.
 */
export function decideCrop(
  width: number,
  height: number,
  crop: number,
  train: boolean,
  rng: SeededRandom,
): CropDecision {
  if (!train) return { top: centerCropOffset(height, crop), left: centerCropOffset(width, crop), flip: false };
  const top = rng.int(height - crop + 1);
  const left = rng.int(width - crop + 1);
  return { top, left, flip: rng.next() < 0.5 };
}
