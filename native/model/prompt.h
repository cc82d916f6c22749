// prompt.h — VPT's learnable prompt tokens (Jia et al., ECCV 2022).
//
//   prompt_embeddings        (1, N, Pd)     inserted after the prefix tokens before block 0
//                                           (absent with reverse_deep)
//   deep_prompt_embeddings   (S, N, Pd)     replace the N prompt slots before blocks 1..L-1 (deep);
//                                           S = L-1, k-1 with deep_layers k, k reversed, none shared
// Which set enters which block: deep_prompt_schedule.h.
//   prompt_proj              Linear(Pd, D)  only when project = Pd > 0; otherwise Pd = D
// Prompts carry no position embedding. Dropout applies to the projected tokens in training.
#pragma once

#include <ATen/ATen.h>

#include "model/named_tensor.h"

namespace vpt {

// What the head pools (KMnP/vpt MODEL.PROMPT.VIT_POOL_TYPE): the backbone's own pooling
// ("original"), or the mean of the image rows, the prompt rows, or both, after the final norm.
enum class PromptPool { kOriginal, kImage, kPrompt, kImagePrompt };

// Where the prompts go (KMnP/vpt MODEL.PROMPT.LOCATION): prepended after the prefix tokens, or
// added to every token: "add" one learnable row per token (N = prefix + patches), "add-1" one
// row added to all of them (N = 1). Added prompts are no rows of their own.
enum class PromptLocation { kPrepend, kAdd, kAddOne };

struct PromptConfig {
  int64_t tokens = 0;  // N; 0 disables prompting
  bool deep = false;
  double dropout = 0.0;
  int64_t project = 0;  // Pd when > 0
  // Deep variants (deep only): prompts in the first deep_layers blocks (0 = all), or with
  // reverse_deep the last; deep_shared: one set (prompt_embeddings) for every prompted block;
  // no_expand: the rows leave the stream after the last prompted block.
  int64_t deep_layers = 0;
  bool reverse_deep = false;
  bool deep_shared = false;
  bool no_expand = false;
  PromptPool pool = PromptPool::kOriginal;
  PromptLocation location = PromptLocation::kPrepend;
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

  // Prompt set `set` (0 = prompt_embeddings, i > 0 = deep set i - 1): (B, N, D). With the
  // default schedule set i enters block i. With `dropout_rng` (training), each sample gets its
  // own dropout mask, as in VPT.
  at::Tensor tokens_for_block(int64_t set, int64_t batch, at::Generator* dropout_rng) const;
  // Rows of deep_prompt_embeddings (0 when the model has none).
  int64_t deep_sets() const;

 private:
  at::Tensor project(const at::Tensor& p) const;

  PromptConfig config_;
  int64_t embed_dim_, depth_, patch_size_;
  at::Tensor prompt_embeddings_;        // (1, N, Pd)
  at::Tensor deep_prompt_embeddings_;   // (L-1, N, Pd)
  at::Tensor proj_weight_, proj_bias_;  // (D, Pd), (D)
};

}  // namespace vpt
