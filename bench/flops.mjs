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
