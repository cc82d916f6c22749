/** Softmax probabilities of the k most likely classes of one logits row. */

export interface ClassScore {
  label: number;
  name: string;
  prob: number;
}

/**
 * The `k` most likely classes of `logits`, most likely first.
 * @example
 * ```ts
 * topK(new Float32Array([0, 2, 1]), ['a', 'b', 'c'], 2); // [{ label: 1, name: 'b', ... }, { label: 2, ... }]
 * ```
 */
export function topK(logits: Float32Array, names: readonly string[], k: number): ClassScore[] {
  let max = Number.NEGATIVE_INFINITY;
  for (const x of logits) max = Math.max(max, x);
  const exp = Array.from(logits, (x) => Math.exp(x - max));
  const sum = exp.reduce((a, b) => a + b, 0);
  return exp
    .map((e, label) => ({ label, name: names[label] ?? String(label), prob: e / sum }))
    .sort((a, b) => b.prob - a.prob)
    .slice(0, Math.min(k, logits.length));
}
