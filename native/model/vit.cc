// vit.cc — see vit.h. Shapes: B batch, T tokens, D width, H heads, hd = D / H.
#include "model/vit.h"

#include "model/block_variants.h"
#include "model/rope.h"
#include "runtime/compat.h"
#include "weights/eva_layout.h"
#include "weights/google_layout.h"
#include "weights/pos_embed.h"
#include "weights/ssl_checkpoint.h"

namespace vpt {

VisionTransformer::VisionTransformer(const VitConfig& config)
    : config_(config),
      blocks_(static_cast<size_t>(config.depth)),
      attn_pool_(config.embed_dim, config.num_heads, config.mlp_hidden(), config.act, config.norm_eps) {}

NamedTensors VisionTransformer::named_tensors() {
  const int64_t D = config_.embed_dim, p = config_.patch_size, C = config_.in_chans;
  const int64_t hidden = config_.mlp_hidden(), fc1_rows = config_.fc1_rows();
  const int64_t pos_tokens = config_.num_patches() + (config_.no_embed_class ? 0 : config_.num_prefix_tokens());
  NamedTensors out = {
      {"patch_embed.proj.weight", {D, C, p, p}, &patch_weight_},
      {"pos_embed", {1, pos_tokens, D}, &pos_embed_},
  };
  // timm: the patch projection has no bias when norm_pre follows it (CLIP).
  if (!config_.pre_norm) out.push_back({"patch_embed.proj.bias", {D}, &patch_bias_});
  if (config_.class_token) out.push_back({"cls_token", {1, 1, D}, &cls_token_});
  if (config_.dist_token) out.push_back({"dist_token", {1, 1, D}, &dist_token_});
  if (config_.reg_tokens > 0) out.push_back({"reg_token", {1, config_.reg_tokens, D}, &reg_token_});
  if (config_.pre_norm) {
    out.push_back({"norm_pre.weight", {D}, &norm_pre_weight_});
    out.push_back({"norm_pre.bias", {D}, &norm_pre_bias_});
  }
  for (int64_t i = 0; i < config_.depth; ++i) {
    VitBlock& b = blocks_[static_cast<size_t>(i)];
    const std::string pre = "blocks." + std::to_string(i) + ".";
    out.push_back({pre + "norm1.weight", {D}, &b.norm1_weight});
    out.push_back({pre + "norm1.bias", {D}, &b.norm1_bias});
    out.push_back({pre + "attn.qkv.weight", {3 * D, D}, &b.qkv_weight});
    if (config_.qkv_bias) out.push_back({pre + "attn.qkv.bias", {3 * D}, &b.qkv_bias});
    out.push_back({pre + "attn.proj.weight", {D, D}, &b.proj_weight});
    out.push_back({pre + "attn.proj.bias", {D}, &b.proj_bias});
    if (config_.layer_scale) out.push_back({pre + "ls1.gamma", {D}, &b.ls1_gamma});
    out.push_back({pre + "norm2.weight", {D}, &b.norm2_weight});
    out.push_back({pre + "norm2.bias", {D}, &b.norm2_bias});
    out.push_back({pre + "mlp.fc1.weight", {fc1_rows, D}, &b.fc1_weight});
    out.push_back({pre + "mlp.fc1.bias", {fc1_rows}, &b.fc1_bias});
    if (config_.mlp_norm) {
      out.push_back({pre + "mlp.norm.weight", {hidden}, &b.mlp_norm_weight});
      out.push_back({pre + "mlp.norm.bias", {hidden}, &b.mlp_norm_bias});
    }
    out.push_back({pre + "mlp.fc2.weight", {D, hidden}, &b.fc2_weight});
    out.push_back({pre + "mlp.fc2.bias", {D}, &b.fc2_bias});
    if (config_.layer_scale) out.push_back({pre + "ls2.gamma", {D}, &b.ls2_gamma});
  }
  if (config_.fc_norm) {
    out.push_back({"fc_norm.weight", {D}, &fc_norm_weight_});
    out.push_back({"fc_norm.bias", {D}, &fc_norm_bias_});
  } else {
    out.push_back({"norm.weight", {D}, &norm_weight_});
    out.push_back({"norm.bias", {D}, &norm_bias_});
  }
  if (config_.global_pool == "map") {
    NamedTensors pool = attn_pool_.named_tensors();
    out.insert(out.end(), pool.begin(), pool.end());
  }
  return out;
}

NamedTensors VisionTransformer::adapter_tensors() {
  const int64_t D = config_.embed_dim, r = config_.adapter_dim;
  NamedTensors out;
  if (r == 0) return out;
  for (int64_t i = 0; i < config_.depth; ++i) {
    VitBlock& b = blocks_[static_cast<size_t>(i)];
    const std::string pre = "blocks." + std::to_string(i) + ".adapter.";
    out.push_back({pre + "down.weight", {r, D}, &b.adapter_down_weight});
    out.push_back({pre + "down.bias", {r}, &b.adapter_down_bias});
    out.push_back({pre + "up.weight", {D, r}, &b.adapter_up_weight});
    out.push_back({pre + "up.bias", {D}, &b.adapter_up_bias});
  }
  return out;
}

TensorMap VisionTransformer::adapt_checkpoint(const TensorMap& checkpoint) const {
  // timm resamples a Google .npz's pos_embed with its npz loader's interpolation (pos_embed.h).
  const bool google = is_google_layout(checkpoint);
  TensorMap out = google                                     ? from_google_layout(checkpoint, config_)
                  : config_.eva && is_eva_layout(checkpoint) ? from_eva_layout(checkpoint, config_.depth)
                                                             : checkpoint;
  if (config_.fc_norm && config_.fresh_fc_norm) out = with_fresh_fc_norm(out, config_.embed_dim);
  if (config_.sincos_pos_embed && !out.count("pos_embed")) {
    out["pos_embed"] = mocov3_sincos_pos_embed(config_.grid(), config_.embed_dim,
                                               config_.no_embed_class ? 0 : config_.num_prefix_tokens());
  }
  auto pos = out.find("pos_embed");
  if (pos != out.end() && pos->second.dim() == 3 && pos->second.size(0) == 1) {
    // The prefix rows (class, registers) are kept; with no_embed_class pos_embed has none.
    const int64_t prefix = config_.no_embed_class ? 0 : config_.num_prefix_tokens();
    if (pos->second.size(1) != prefix + config_.num_patches()) {
      pos->second =
          resample_pos_embed(pos->second, prefix, config_.grid(),
                             !google                               ? PosEmbedInterpolation::kBicubicAntialias
                             : config_.npz_pos_embed_align_corners ? PosEmbedInterpolation::kBilinearAlignCorners
                                                                   : PosEmbedInterpolation::kBilinear);
    }
  }
  return out;
}

at::Tensor VisionTransformer::layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  return at::layer_norm(x, {config_.embed_dim}, w, b, config_.norm_eps);
}

at::Tensor VisionTransformer::patch_tokens(const at::Tensor& pixels) const {
  // (B, D, h/p, w/p) -> (B, n, D)
  return at::conv2d(pixels, patch_weight_, patch_bias_, /*stride=*/config_.patch_size).flatten(2).transpose(1, 2);
}

at::Tensor VisionTransformer::embed(const at::Tensor& images, const at::Tensor& patch_weight,
                                    const at::Tensor& patch_bias) const {
  const int64_t B = images.size(0);
  // (B, D, g, g) -> (B, P, D)
  at::Tensor x = patch_weight.defined() ? at::conv2d(images, patch_weight, patch_bias, /*stride=*/config_.patch_size)
                                        : at::conv2d(images, patch_weight_, patch_bias_, /*stride=*/config_.patch_size);
  x = x.flatten(2).transpose(1, 2);

  std::vector<at::Tensor> prefix;
  if (config_.class_token) prefix.push_back(cls_token_.expand({B, -1, -1}));
  if (config_.dist_token) prefix.push_back(dist_token_.expand({B, -1, -1}));
  if (config_.reg_tokens > 0) prefix.push_back(reg_token_.expand({B, -1, -1}));

  if (config_.no_embed_class) {
    x = x + pos_embed_;
    if (!prefix.empty()) {
      prefix.push_back(x);
      x = at::cat(prefix, 1);
    }
  } else {
    if (!prefix.empty()) {
      prefix.push_back(x);
      x = at::cat(prefix, 1);
    }
    x = x + pos_embed_;
  }
  if (config_.pre_norm) x = layer_norm(x, norm_pre_weight_, norm_pre_bias_);
  return x;  // (B, prefix + P, D)
}

at::Tensor VisionTransformer::attention(const VitBlock& b, const at::Tensor& x, int64_t queries,
                                        const at::Tensor& kv_h) const {
  const int64_t B = x.size(0), T = x.size(1), D = config_.embed_dim, H = config_.num_heads, hd = config_.head_dim();
  auto rows = [&](const at::Tensor& t, int64_t start, int64_t n) { return t.defined() ? t.narrow(0, start, n) : t; };
  // (B', T', D) -> (2, B', H, T', hd): keys and values of every row of h.
  auto keys_values = [&](const at::Tensor& h) {
    return at::linear(h, rows(b.qkv_weight, D, 2 * D), rows(b.qkv_bias, D, 2 * D))
        .reshape({h.size(0), h.size(1), 2, H, hd})
        .permute({2, 0, 3, 1, 4});
  };
  at::Tensor out;
  if (queries == T && !kv_h.defined()) {
    // (B, T, 3D) -> (3, B, H, T, hd)
    // unbind, not three selects: its backward stacks the three gradients in one pass, where
    // each select's would zero a whole (3, B, H, T, hd) tensor and the three be summed.
    std::vector<at::Tensor> qkv =
        at::linear(x, b.qkv_weight, b.qkv_bias).reshape({B, T, 3, H, hd}).permute({2, 0, 3, 1, 4}).unbind(0);
    out = compat::sdpa(rope_rows(qkv[0], T), rope_rows(qkv[1], T), qkv[2]);  // (B, H, T, hd), scale hd^-0.5
  } else {
    // Queries of the first `queries` tokens only; keys and values of all T tokens.
    at::Tensor q, k, v;
    if (queries == T) {
      std::vector<at::Tensor> qkv =
          at::linear(x, b.qkv_weight, b.qkv_bias).reshape({B, T, 3, H, hd}).permute({2, 0, 3, 1, 4}).unbind(0);
      q = qkv[0], k = qkv[1], v = qkv[2];
    } else {
      q = at::linear(x.narrow(1, 0, queries), rows(b.qkv_weight, 0, D), rows(b.qkv_bias, 0, D))
              .reshape({B, queries, H, hd})
              .transpose(1, 2);  // (B, H, q, hd)
      std::vector<at::Tensor> kv = keys_values(x).unbind(0);
      k = kv[0], v = kv[1];
    }
    // Before the key / value rows join: those (prompts) take no rotary embedding.
    q = rope_rows(q, T), k = rope_rows(k, T);
    if (kv_h.defined()) {
      // Rows that are only keys and values (VPT-deep's prompts): their projections join the
      // others; a batch-shared row is projected once and broadcast.
      at::Tensor kv_all = keys_values(kv_h);
      const int64_t groups = kv_all.size(1);
      if (groups == 1) {
        kv_all = kv_all.expand({2, B, H, kv_all.size(3), hd});
      } else if (groups != B) {
        // One row set per group of B / groups consecutive samples (a stacked group step).
        kv_all = kv_all.unsqueeze(2)
                     .expand({2, groups, B / groups, H, kv_all.size(3), hd})
                     .reshape({2, B, H, kv_all.size(3), hd});
      }
      std::vector<at::Tensor> kv = kv_all.unbind(0);
      // Appended after the others, not inserted after the prefix rows where the stream had
      // them: without a mask, attention does not depend on the order of the keys (only the
      // summation order changes), and the backward of a cat of whole tensors is views, where
      // narrowing k and v around an insertion zero-fills two buffers of k's size each.
      k = at::cat({k, kv[0]}, 2), v = at::cat({v, kv[1]}, 2);  // (B, H, T + n, hd)
    }
    out = compat::sdpa(q, k, v);  // (B, H, q, hd)
  }
  out = out.transpose(1, 2).reshape({B, queries, D});
  return at::linear(out, b.proj_weight, b.proj_bias);
}

at::Tensor VisionTransformer::rope_rows(const at::Tensor& t, int64_t T) const {
  if (!config_.rope) return t;
  if (!rope_sin_.defined() || rope_sin_.device() != t.device()) {
    auto [sin, cos] = rope_tables(config_.grid(), config_.head_dim(), config_.rope_ref_grid, config_.rope_temperature);
    rope_sin_ = sin.to(t.device()), rope_cos_ = cos.to(t.device());
  }
  // The patch tokens are the last P of the T rows; `t` holds the first t.size(2) of them.
  return apply_rope(t, rope_sin_, rope_cos_, T - config_.num_patches());
}

at::Tensor VisionTransformer::mlp(const VitBlock& b, const at::Tensor& x) const {
  at::Tensor h;
  if (config_.swiglu) {
    // timm SwiGLU / GluMlp(gate_last=False): silu(fc1_g(x)) * fc1_x(x)
    std::vector<at::Tensor> gx = at::linear(x, b.fc1_weight, b.fc1_bias).chunk(2, -1);
    h = at::silu(gx[0]) * gx[1];
  } else {
    h = mlp_activation(at::linear(x, b.fc1_weight, b.fc1_bias), config_.act);
  }
  // timm Eva scale_mlp: a LayerNorm of the hidden units before fc2.
  if (config_.mlp_norm)
    h = at::layer_norm(h, {config_.mlp_hidden()}, b.mlp_norm_weight, b.mlp_norm_bias, config_.norm_eps);
  at::Tensor m = at::linear(h, b.fc2_weight, b.fc2_bias);
  if (config_.adapter_dim == 0) return m;
  // KMnP/vpt's ADPT_Block: its GELU is the exact (erf) one, whatever the backbone's activation.
  const at::Tensor a = at::gelu(at::linear(m, b.adapter_down_weight, b.adapter_down_bias));
  return m + at::linear(a, b.adapter_up_weight, b.adapter_up_bias);
}

at::Tensor VisionTransformer::block_forward(int64_t index, const at::Tensor& x, int64_t queries,
                                            const at::Tensor& kv_rows) const {
  const VitBlock& b = blocks_[static_cast<size_t>(index)];
  const at::Tensor kv_h = kv_rows.defined() ? layer_norm(kv_rows, b.norm1_weight, b.norm1_bias) : at::Tensor();
  auto [y, m] =
      block_forward_normed(index, x, layer_norm(x, b.norm1_weight, b.norm1_bias), queries, /*fused=*/false, kv_h);
  return y + m;
}

std::pair<at::Tensor, at::Tensor> VisionTransformer::block_forward_normed(int64_t index, const at::Tensor& x,
                                                                          const at::Tensor& h, int64_t queries,
                                                                          bool fused, const at::Tensor& kv_h) const {
  const VitBlock& b = blocks_[static_cast<size_t>(index)];
  const int64_t q = queries < 0 ? x.size(1) : queries;
  at::Tensor a = attention(b, h, q, kv_h);
  if (config_.layer_scale) a = a * b.ls1_gamma;
  AddNorm mid =
      add_norm(q == x.size(1) ? x : x.narrow(1, 0, q), a, at::Tensor(), 0, b.norm2_weight, b.norm2_bias, fused);
  at::Tensor m = mlp(b, mid.normed);
  if (config_.layer_scale) m = m * b.ls2_gamma;
  return {mid.sum, m};
}

AddNorm VisionTransformer::block_input(int64_t index, const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows,
                                       int64_t rows_start, bool fused) const {
  const VitBlock& b = blocks_[static_cast<size_t>(index)];
  return add_norm(x, r, rows, rows_start, b.norm1_weight, b.norm1_bias, fused);
}

AddNorm VisionTransformer::add_norm(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows,
                                    int64_t rows_start, const at::Tensor& w, const at::Tensor& b, bool fused) const {
  if (!fused) return add_layer_norm_reference(x, r, rows, rows_start, w, b, config_.norm_eps, at::kFloat);
  // The normed stream only feeds linear layers: under autocast the fused op writes it in the
  // autocast dtype directly. (Unfused, the LayerNorm stays fp32 and the linear casts it, as
  // timm's modules do; on the CPU that is not bit-identical to casting first.)
  const c10::DeviceType device = x.device().type();
  const at::ScalarType normed =
      at::autocast::is_autocast_enabled(device) ? at::autocast::get_autocast_dtype(device) : at::kFloat;
  return add_layer_norm(x, r, rows, rows_start, w, b, config_.norm_eps, normed);
}

at::Tensor VisionTransformer::pool(const at::Tensor& x, int64_t skip_prefix) const {
  at::Tensor h = config_.fc_norm ? x : layer_norm(x, norm_weight_, norm_bias_);
  at::Tensor pooled;
  if (config_.global_pool == "token") {
    // timm's distilled DeiT: the mean of the class and distillation tokens' outputs.
    pooled = config_.dist_token ? (h.select(1, 0) + h.select(1, 1)) / 2 : h.select(1, 0);
  } else {
    at::Tensor tokens = h.narrow(1, skip_prefix, h.size(1) - skip_prefix);
    pooled = config_.global_pool == "map" ? attn_pool_.forward(tokens) : tokens.mean(1);
  }
  return config_.fc_norm ? layer_norm(pooled, fc_norm_weight_, fc_norm_bias_) : pooled;
}

at::Tensor VisionTransformer::pool_rows(const at::Tensor& x, int64_t start, int64_t count) const {
  at::Tensor h = config_.fc_norm ? x : layer_norm(x, norm_weight_, norm_bias_);
  at::Tensor pooled = h.narrow(1, start, count).mean(1);
  return config_.fc_norm ? layer_norm(pooled, fc_norm_weight_, fc_norm_bias_) : pooled;
}

}  // namespace vpt
