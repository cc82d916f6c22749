// attention_pool.cc — see attention_pool.h. Shapes: B batch, T tokens, D width, H heads.
#include "model/attention_pool.h"

#include <utility>

#include "model/block_variants.h"
#include "runtime/compat.h"

namespace vpt {

AttentionPool::AttentionPool(int64_t dim, int64_t num_heads, int64_t mlp_hidden, std::string act, double norm_eps)
    : dim_(dim), num_heads_(num_heads), mlp_hidden_(mlp_hidden), act_(std::move(act)), norm_eps_(norm_eps) {}

NamedTensors AttentionPool::named_tensors() {
  const int64_t D = dim_, M = mlp_hidden_;
  return {
      {"attn_pool.latent", {1, 1, D}, &latent_},   {"attn_pool.q.weight", {D, D}, &q_weight_},
      {"attn_pool.q.bias", {D}, &q_bias_},         {"attn_pool.kv.weight", {2 * D, D}, &kv_weight_},
      {"attn_pool.kv.bias", {2 * D}, &kv_bias_},   {"attn_pool.proj.weight", {D, D}, &proj_weight_},
      {"attn_pool.proj.bias", {D}, &proj_bias_},   {"attn_pool.norm.weight", {D}, &norm_weight_},
      {"attn_pool.norm.bias", {D}, &norm_bias_},   {"attn_pool.mlp.fc1.weight", {M, D}, &fc1_weight_},
      {"attn_pool.mlp.fc1.bias", {M}, &fc1_bias_}, {"attn_pool.mlp.fc2.weight", {D, M}, &fc2_weight_},
      {"attn_pool.mlp.fc2.bias", {D}, &fc2_bias_},
  };
}

at::Tensor AttentionPool::forward(const at::Tensor& x) const {
  const int64_t B = x.size(0), T = x.size(1), D = dim_, H = num_heads_, hd = D / H;
  // (1, 1, D) -> (1, H, 1, hd), shared by the batch.
  at::Tensor q = at::linear(latent_, q_weight_, q_bias_).reshape({1, 1, H, hd}).transpose(1, 2).expand({B, H, 1, hd});
  // (B, T, 2D) -> (2, B, H, T, hd)
  at::Tensor kv = at::linear(x, kv_weight_, kv_bias_).reshape({B, T, 2, H, hd}).permute({2, 0, 3, 1, 4});
  at::Tensor out = compat::sdpa(q, kv[0], kv[1]);  // (B, H, 1, hd), scale hd^-0.5
  out = at::linear(out.transpose(1, 2).reshape({B, 1, D}), proj_weight_, proj_bias_);
  at::Tensor h = at::layer_norm(out, {D}, norm_weight_, norm_bias_, norm_eps_);
  h = at::linear(mlp_activation(at::linear(h, fc1_weight_, fc1_bias_), act_), fc2_weight_, fc2_bias_);
  return (out + h).select(1, 0);  // (B, D): the latent's row
}

}  // namespace vpt
