// attention_pool.h — timm's AttentionPoolLatent (global_pool='map', SigLIP's head): one learned
// latent query attends over the tokens; proj, then x + mlp(norm(x)).
//   (B, T, D) -> (B, D)
// timm builds it with the model's heads, MLP ratio, activation and norm (eps), a qkv bias, no
// q/k norm, latent_len 1 and token pooling of the latent; its tensors are `attn_pool.*`.
#pragma once

#include <ATen/ATen.h>

#include <string>

#include "model/named_tensor.h"

namespace vpt {

class AttentionPool {
 public:
  AttentionPool(int64_t dim, int64_t num_heads, int64_t mlp_hidden, std::string act, double norm_eps);

  // The tensors under timm's names (attn_pool.latent, .q, .kv, .proj, .norm, .mlp.fc1/fc2).
  NamedTensors named_tensors();
  at::Tensor forward(const at::Tensor& x) const;

 private:
  int64_t dim_, num_heads_, mlp_hidden_;
  std::string act_;
  double norm_eps_;
  at::Tensor latent_;               // (1, 1, D)
  at::Tensor q_weight_, q_bias_;    // (D, D), (D)
  at::Tensor kv_weight_, kv_bias_;  // (2D, D): rows [k | v]
  at::Tensor proj_weight_, proj_bias_;
  at::Tensor norm_weight_, norm_bias_;
  at::Tensor fc1_weight_, fc1_bias_;
  at::Tensor fc2_weight_, fc2_bias_;
};

}  // namespace vpt
