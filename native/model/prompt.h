// prompt.h — VPT's learnable prompt tokens (Jia et al., ECCV 2022).
//
//   prompt_embeddings        (1, N, Pd)     inserted after the prefix tokens before block 0
//   deep_prompt_embeddings   (L-1, N, Pd)   replace the N prompt slots before blocks 1..L-1 (deep)
//   prompt_proj              Linear(Pd, D)  only when project = Pd > 0; otherwise Pd = D
// Prompts carry no position embedding. Dropout applies to the projected tokens in training.
#pragma once

#include <ATen/ATen.h>

#include "model/named_tensor.h"

namespace vpt {

struct PromptConfig {
  int64_t tokens = 0;  // N; 0 disables prompting
  bool deep = false;
  double dropout = 0.0;
  int64_t project = 0;  // Pd when > 0
};

class Prompts {
 public:
  Prompts(const PromptConfig& config, int64_t embed_dim, int64_t depth, int64_t patch_size);

  bool enabled() const { return config_.tokens > 0; }
  bool deep() const { return config_.deep; }
  int64_t tokens() const { return config_.tokens; }

  NamedTensors named_tensors();

  // VPT's initialisation: uniform(-v, v), v = sqrt(6 / (3 * patch * patch + Pd)); the
  // projection uses kaiming-normal (fan_out) weights and PyTorch's default Linear bias.
  void initialize(at::Generator& generator);

  // Tokens entering block `block` (0 = the shallow set, i > 0 = deep set i - 1): (B, N, D).
  // With `dropout_rng` (training), each sample gets its own dropout mask, as in VPT.
  at::Tensor tokens_for_block(int64_t block, int64_t batch, at::Generator* dropout_rng) const;

 private:
  at::Tensor project(const at::Tensor& p) const;

  PromptConfig config_;
  int64_t embed_dim_, depth_, patch_size_;
  at::Tensor prompt_embeddings_;        // (1, N, Pd)
  at::Tensor deep_prompt_embeddings_;   // (L-1, N, Pd)
  at::Tensor proj_weight_, proj_bias_;  // (D, Pd), (D)
};

}  // namespace vpt
