// Small helpers the benchmarks share.

/** The median of a list of numbers (the upper one for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** `n` deterministic pseudo-random floats in [-1, 1): the same input for every side of a benchmark. */
export function randomImages(n) {
  const out = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}
