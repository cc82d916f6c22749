// pos_embed.h — resampling a ViT's absolute position embedding to another patch grid, as
// timm's `resample_abs_pos_embed` does: the prefix-token rows (class, registers) are kept
// as they are, the square grid of patch rows is resized with the interpolation of the loader
// timm uses for the checkpoint's format:
//   - timm checkpoints (.safetensors, `checkpoint_filter_fn`): antialiased bicubic, timm's
//     defaults (`F.interpolate(mode='bicubic', antialias=True)`);
//   - Google .npz checkpoints (`_load_weights`): bilinear without antialiasing
//     (`interpolation='bilinear', antialias=False`).
#pragma once

#include <ATen/ATen.h>

namespace vpt {

// How the grid of patch rows is resized.
enum class PosEmbedInterpolation {
  kBicubicAntialias,  // timm's checkpoint_filter_fn (timm / PyTorch checkpoints)
  kBilinear,          // timm's _load_weights (Google .npz checkpoints)
  // KMnP/vpt's load_from (scipy.ndimage.zoom, order 1): bilinear, corners aligned; VPT's
  // prompt location pad (vit.h VitConfig::npz_pos_embed_align_corners)
  kBilinearAlignCorners,
};

// (1, prefix + g*g, D) -> (1, prefix + new_grid*new_grid, D); returned unchanged when the grid
// already has new_grid*new_grid tokens. Throws VPT_WEIGHTS when the rows after the prefix do
// not form a square grid.
at::Tensor resample_pos_embed(const at::Tensor& pos_embed, int64_t num_prefix_tokens, int64_t new_grid,
                              PosEmbedInterpolation interpolation = PosEmbedInterpolation::kBicubicAntialias);

}  // namespace vpt
