// FLOPs of the VPT-deep step as the benchmarks count them (bench/train-step.mjs,
// scripts/gpu-check.mjs): matmuls of the prompted sequence (1 + N + patches tokens) through
// every block, plus the patch embedding. The backward pass with a frozen backbone needs input
// gradients only, about one forward more, so a train step counts as two forwards. Both sides
// are charged the same count (vpt-native's last block computes only the CLS row, so it does
// less work than it is charged for).

/** Dense bf16 peak of an H200 / H100 SXM (TFLOP/s), for MFU. */
export const H200_BF16_PEAK_TFLOPS = 989;

/** Forward FLOPs of one image: `shape` = { embedDim, depth }, 224 px, patch 16 unless given. */
export function forwardFlopsPerImage({ embedDim: D, depth: L }, { tokens = 10, img = 224, patch = 16 } = {}) {
  const P = (img / patch) ** 2;
  const T = 1 + tokens + P;
  return L * (24 * T * D * D + 4 * T * T * D) + 2 * P * 3 * patch * patch * D;
}

/** FLOPs of one train step (forward + input-gradient backward) on `batch` images. */
export function trainStepFlops(shape, batch, options) {
  return 2 * batch * forwardFlopsPerImage(shape, options);
}

/**
 * Forward FLOPs of one image counting only the rows a side actually computes (bench/prompt-scaling.mjs),
 * for VPT-deep with `tokens` prompts and token pooling:
 *   'every-row'  every row of every block (PyTorch eager, timm);
 *   'cls-last'   vpt-native with skipDiscardedPromptRows off: every row, but only the CLS
 *                row's query / projection / MLP in the last block;
 *   'kv-prompts' vpt-native's default: the prompt rows get their keys and values only, once per
 *                batch when the batch shares its prompts (no dropout), hence `batch`.
 * Per block, with Q query rows and T key rows: qkv 2(Q + 2T)D^2 split as 2QD^2 + 4TD^2,
 * attention 4QTD, projection 2QD^2, MLP 16QD^2.
 */
export function computedForwardFlopsPerImage(
  { embedDim: D, depth: L },
  { tokens = 10, img = 224, patch = 16, batch = 1, rows = 'every-row' } = {},
) {
  const P = (img / patch) ** 2;
  const K = 1 + P; // CLS + patches
  const T = K + tokens; // every row that serves as a key
  const block = (queries, keyRowsPerImage) => 20 * queries * D * D + 4 * keyRowsPerImage * D * D + 4 * queries * T * D;
  let total = 2 * P * 3 * patch * patch * D;
  for (let i = 0; i < L; i++) {
    const last = i === L - 1;
    if (rows === 'every-row') total += block(T, T);
    else if (rows === 'cls-last') total += block(last ? 1 : T, T);
    else total += block(last ? 1 : K, K + tokens / batch);
  }
  return total;
}

/** FLOPs of one train step (forward + input-gradient backward, about two forwards) on `batch` images. */
export function computedTrainStepFlops(shape, batch, options) {
  return 2 * batch * computedForwardFlopsPerImage(shape, { ...options, batch });
}
