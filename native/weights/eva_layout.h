// eva_layout.h — timm's Eva tensor names in VisionTransformer terms, so EVA-02 runs on the same
// blocks: attn.q_proj / k_proj / v_proj (k without a bias) or attn.qkv + q_bias / v_bias become
// attn.qkv.weight / .bias (the key bias zero, as timm's), mlp.fc1_g / fc1_x become one
// mlp.fc1 (rows [gate | x]), gamma_1 / gamma_2 become ls1.gamma / ls2.gamma; a stored rope.*
// table is dropped (recomputed). Other names pass.
#pragma once

#include "weights/tensor_file.h"

namespace vpt {

bool is_eva_layout(const TensorMap& checkpoint);
TensorMap from_eva_layout(const TensorMap& checkpoint, int64_t depth);

}  // namespace vpt
