// ssl_checkpoint.h — what self-supervised checkpoints leave out, filled in as the models that
// read them fill it in:
//  - MAE pretraining checkpoints (timm's `vit_base_patch16_224.mae`, MAE's
//    mae_pretrain_vit_base.pth) hold the encoder's final `norm` and no `fc_norm`. MAE's
//    fine-tuning model and KMnP/vpt's vit_mae.py (global_pool=True) replace `norm` by a new
//    `fc_norm` after average pooling and load the checkpoint non-strictly: `fc_norm` starts as a
//    LayerNorm's identity (weight 1, bias 0) and the stored `norm` is not used.
//  - MoCo v3 ViTs use a fixed 2D sin-cos position embedding (moco-v3 vits.py,
//    KMnP/vpt vit_moco.py). Its checkpoints store it (a parameter with requires_grad off); an
//    export without it gets it recomputed here.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "weights/tensor_file.h"

namespace vpt {

// `checkpoint` with the MAE fc_norm (identity) in place of a stored `norm`, when it has no
// `fc_norm.weight`; unchanged otherwise. `embed_dim` sizes the new tensors.
TensorMap with_fresh_fc_norm(const TensorMap& checkpoint, int64_t embed_dim);

// MoCo v3's position embedding, (1, prefix + grid * grid, dim): zero rows for the `prefix`
// tokens, then per patch (row r, column c of the grid, row-major as the patch tokens) the
// sin / cos of r * w_d followed by the sin / cos of c * w_d, w_d = temperature^(-d / (dim / 4)),
// d < dim / 4. `dim` must be a multiple of 4.
at::Tensor mocov3_sincos_pos_embed(int64_t grid, int64_t dim, int64_t prefix, double temperature = 10000.0);

}  // namespace vpt
