// block_variants.h — the parts of timm's ViT blocks that differ between model families:
// the MLP activation (timm act_layer: GELU, CLIP's QuickGELU, tanh-approximated GELU).
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace vpt {

// "gelu" | "quick_gelu" | "gelu_tanh"; any other name is rejected when the config is parsed.
at::Tensor mlp_activation(const at::Tensor& x, const std::string& act);

// Whether `act` names an activation mlp_activation computes.
bool is_mlp_activation(const std::string& act);

}  // namespace vpt
