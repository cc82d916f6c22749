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

/** The value after `--name` on the command line, or `fallback`. */
export function argValue(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : fallback;
}

/** The ViT shapes the benches build random backbones of (12 blocks, patch 16). */
export const VIT_SHAPES = {
  ti: { name: 'ViT-Ti/16', embedDim: 192, depth: 12, numHeads: 3 },
  s: { name: 'ViT-S/16', embedDim: 384, depth: 12, numHeads: 6 },
  b: { name: 'ViT-B/16', embedDim: 768, depth: 12, numHeads: 12 },
};
