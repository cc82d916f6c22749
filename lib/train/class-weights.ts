/** Per-class loss weights from the real class counts of a training split. */
import { invalidOption } from '../errors.js';

export type ClassWeighting = 'none' | 'inv' | 'inv_sqrt';

/**
 * `inv`: count^-1, `inv_sqrt`: count^-0.5, rescaled so the weights of the classes present sum
 * to C; classes absent from the split get weight 0 (they never occur as targets). `none`: all
 * ones. Unlike the original VPT code (which counted unique ids, so always produced ones), the
 * counts here are the real per-class frequencies.
 * @example
 * ```ts
 * const w = computeClassWeights(Int32Array.from([0, 0, 0, 1]), 2, 'inv'); // [0.5, 1.5]
 * model.setClassWeights(w);
 * ```
 */
export function computeClassWeights(labels: ArrayLike<number>, numClasses: number, mode: ClassWeighting): Float32Array {
  if (!['none', 'inv', 'inv_sqrt'].includes(mode))
    throw invalidOption('classWeights', '"none", "inv" or "inv_sqrt"', mode);
  const weights = new Float32Array(numClasses);
  if (mode === 'none') return weights.fill(1);
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses)
      throw invalidOption(`labels[${i}]`, `an integer in 0..${numClasses - 1}`, y);
    counts[y]!++;
  }
  const power = mode === 'inv' ? -1 : -0.5;
  const raw = Array.from(counts, (c) => (c > 0 ? c ** power : 0));
  const sum = raw.reduce((a, b) => a + b, 0);
  raw.forEach((w, c) => {
    weights[c] = sum > 0 ? (w * numClasses) / sum : 0;
  });
  return weights;
}
