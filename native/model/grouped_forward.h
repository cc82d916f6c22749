// grouped_forward.h — one train forward for a group of models that share a frozen backbone.
//
// A tune group's trials (transfer prompt or linear, createModelSharingBackbone) differ only in
// their prompts, heads and optimizer settings. Their train forwards on one batch of B images,
// G models, as one pass:
//
//   prompt: x = embed(images), stacked G times                      (G*B, prefix + P, D)
//           before every block, each model's own prompt step (its schedule: rows inserted,
//           replaced, added, or key / value rows), model g's rows at samples [g*B, (g+1)*B);
//           key / value rows shared by a model's batch enter as (G, N, D) (vit.h kv_rows)
//           features = pool(blocks(x))                              (G*B, D)
//           logits_g = head_g(features[g*B : (g+1)*B])              (B, C_g)
//   linear: features = pool(blocks(embed(images))) once, without autograd (B, D)
//           logits_g = head_g(features)
//
// Each model draws its prompt and head dropout from its own generator, in the order its own
// forward does, so the stacked forward equals the G forwards one after another: exactly for
// linear, within float rounding (batched against single matmuls) for prompt.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "model/prompted_vit.h"

namespace vpt {

class GroupedForward {
 public:
  // Why `models` cannot run one stacked forward ("" when they can): a transfer other than
  // prompt / linear, bf16, activation checkpointing, fused LayerNorm, the input prompt
  // locations (pad, below), models on other devices, another prompt shape or schedule than the
  // first model's, or a backbone that is not the first model's own tensors.
  static std::string unsupported(const std::vector<PromptedVit*>& models);
  // The models' train-mode logits on `images` (B, C, S, S): one (B, C_g) tensor per model, in
  // order, with autograd into each model's own prompts and head. Call unsupported() first.
  static std::vector<at::Tensor> train_logits(const std::vector<PromptedVit*>& models, const at::Tensor& images);
};

}  // namespace vpt
