// block_variants.cc — see block_variants.h.
#include "model/block_variants.h"

namespace vpt {

bool is_mlp_activation(const std::string& act) { return act == "gelu" || act == "quick_gelu" || act == "gelu_tanh"; }

at::Tensor mlp_activation(const at::Tensor& x, const std::string& act) {
  // timm QuickGELU (OpenAI CLIP): x * sigmoid(1.702 x).
  if (act == "quick_gelu") return x * at::sigmoid(x * 1.702);
  return at::gelu(x, act == "gelu_tanh" ? "tanh" : "none");
}

}  // namespace vpt
