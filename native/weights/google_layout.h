// google_layout.h — Google's Flax ViT checkpoints (the `.npz` files of google-research/
// vision_transformer and big_vision) in timm's names and layouts, as timm's `_load_weights`
// reads them.
//
// Keys arrive without their `opt/target/` or `params/` prefix and without `head/` and
// `pre_logits/` (the TypeScript side strips those). Two block layouts exist:
//   vision_transformer: Transformer/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_1,
//                       LayerNorm_2, MlpBlock_3}, Transformer/posembed_input/pos_embedding
//   big_vision:         Transformer/encoderblock_{i}/{LayerNorm_0, MultiHeadDotProductAttention_0,
//                       LayerNorm_1, MlpBlock_0}, pos_embedding
// Kernels are converted: conv HWIO -> OIHW, dense (in, out) -> (out, in), q/k/v (D, H, hd) and
// their (H, hd) biases fused into `attn.qkv`, out (H, hd, D) -> `attn.proj` (D, D).
#pragma once

#include "model/vit.h"
#include "weights/tensor_file.h"

namespace vpt {

// True when `checkpoint` is keyed the Google way (it holds `embedding/kernel`).
bool is_google_layout(const TensorMap& checkpoint);

// The checkpoint under timm's names, in timm's layouts, for a model of `config`. Every missing,
// mis-shaped and unexpected Google key is named in one VPT_WEIGHTS error before anything is
// converted. The position embedding keeps its grid (pos_embed.h resamples it).
TensorMap from_google_layout(const TensorMap& checkpoint, const VitConfig& config);

}  // namespace vpt
