// vit.h — timm's VisionTransformer, as plain tensors and functional ops.
//
// Token layout after embedding: [cls?, reg_0..reg_{R-1}, patch_0..patch_{P-1}]   (B, T, D)
// The prompted model (prompted_vit.h) inserts prompts after the prefix tokens; this file only
// knows about "prefix tokens", so pooling is told how many leading tokens to skip.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "kernels/add_layer_norm.h"
#include "model/attention_pool.h"
#include "model/named_tensor.h"
#include "weights/tensor_file.h"

namespace vpt {

struct VitConfig {
  int64_t img_size = 224;
  int64_t patch_size = 16;
  int64_t in_chans = 3;
  int64_t embed_dim = 768;
  int64_t depth = 12;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  bool qkv_bias = true;
  bool class_token = true;
  int64_t reg_tokens = 0;
  bool dist_token = false;            // DeiT distilled: [cls, dist] lead; token pooling averages their outputs
  bool no_embed_class = false;        // pos_embed covers patch tokens only
  bool layer_scale = false;           // ls1.gamma / ls2.gamma present (timm init_values)
  std::string global_pool = "token";  // "token" | "avg" | "map" (attention_pool.h, after the final norm)
  bool fc_norm = false;               // norm after pooling instead of before
  double norm_eps = 1e-6;
  std::string act = "gelu";  // MLP activation (block_variants.h): "gelu" | "quick_gelu" | "gelu_tanh"
  bool pre_norm = false;     // timm norm_pre (CLIP's ln_pre): LayerNorm of the embedded tokens
  // timm Eva (EVA-02): its tensor names (weights/eva_layout.h), a SwiGLU MLP (fc1 rows
  // [gate | x], SiLU gate) with a LayerNorm of the hidden units (scale_mlp), and a rotary
  // position embedding of the patch tokens' queries and keys (rope.h; ref_grid 0: none).
  bool eva = false;
  bool swiglu = false;
  bool mlp_norm = false;
  bool rope = false;
  double rope_ref_grid = 0;
  double rope_temperature = 10000;
  // A Google .npz's pos_embed resized to another grid as KMnP/vpt's load_from does (scipy's
  // zoom, order 1: bilinear with the corners aligned) rather than as timm does; for VPT's prompt
  // location pad, whose grown input only KMnP defines.
  bool npz_pos_embed_align_corners = false;
  // Self-supervised checkpoints (weights/ssl_checkpoint.h): with fc_norm, a checkpoint without
  // fc_norm (MAE pretraining) gets a LayerNorm-identity fc_norm and its `norm` is not used; a
  // checkpoint without pos_embed (a MoCo v3 export) gets MoCo v3's fixed 2D sin-cos one.
  bool fresh_fc_norm = false;
  bool sincos_pos_embed = false;
  // Pfeiffer adapters (KMnP/vpt vit_adapter): with adapter_dim > 0 every block's MLP output m
  // becomes m + up(gelu(down(m))), down (adapter_dim, D), up (D, adapter_dim), before the
  // residual add (and before LayerScale). Their tensors are not the backbone's: adapter_tensors().
  int64_t adapter_dim = 0;

  int64_t grid() const { return img_size / patch_size; }
  int64_t num_patches() const { return grid() * grid(); }
  int64_t num_prefix_tokens() const { return (class_token ? 1 : 0) + (dist_token ? 1 : 0) + reg_tokens; }
  int64_t mlp_hidden() const { return static_cast<int64_t>(embed_dim * mlp_ratio); }
  int64_t fc1_rows() const { return swiglu ? 2 * mlp_hidden() : mlp_hidden(); }
  int64_t head_dim() const { return embed_dim / num_heads; }
};

struct VitBlock {
  at::Tensor norm1_weight, norm1_bias;
  at::Tensor qkv_weight, qkv_bias;  // (3D, D): rows [q | k | v], head-major within each
  at::Tensor proj_weight, proj_bias;
  at::Tensor ls1_gamma;
  at::Tensor norm2_weight, norm2_bias;
  at::Tensor fc1_weight, fc1_bias;            // (M, D), or (2M, D) rows [gate | x] with swiglu
  at::Tensor mlp_norm_weight, mlp_norm_bias;  // (M) with mlp_norm
  at::Tensor fc2_weight, fc2_bias;
  at::Tensor ls2_gamma;
  at::Tensor adapter_down_weight, adapter_down_bias, adapter_up_weight, adapter_up_bias;  // adapter_dim > 0
};

class VisionTransformer {
 public:
  explicit VisionTransformer(const VitConfig& config);

  const VitConfig& config() const { return config_; }

  // Every tensor of the backbone under its timm name, with the shape the config implies.
  NamedTensors named_tensors();
  // The adapters' tensors (blocks.{i}.adapter.down/up.weight/bias; none with adapter_dim 0).
  NamedTensors adapter_tensors();

  // A checkpoint in this model's terms: Google names and layouts become timm's
  // (google_layout.h) and the position embedding is resampled to this model's grid
  // (pos_embed.h). Tensors that still do not fit are left for the caller to name.
  TensorMap adapt_checkpoint(const TensorMap& checkpoint) const;
  /** A checkpoint's classifier (`head.*`, a distilled DeiT's `head_dist.*`): a task brings its own head. */
  // The bytes its weights take (those loaded).
  int64_t bytes() {
    int64_t n = 0;
    for (auto& t : named_tensors()) {
      if (t.slot->defined()) n += static_cast<int64_t>(t.slot->nbytes());
    }
    return n;
  }
  static bool is_checkpoint_head(const std::string& name) {
    return name.rfind("head.", 0) == 0 || name.rfind("head_dist.", 0) == 0;
  }

  // (B, 3, H, W) -> (B, prefix + P, D): patch embedding, prefix tokens, position embedding,
  // norm_pre (pre_norm; prompts inserted after it enter the first block as they are).
  // `patch_weight` / `patch_bias` defined: they replace the backbone's patch embedding (VPT's
  // location below, whose images have more channels).
  at::Tensor embed(const at::Tensor& images, const at::Tensor& patch_weight = at::Tensor(),
                   const at::Tensor& patch_bias = at::Tensor()) const;
  // The patch embedding alone, no prefix or position embedding: (B, 3, h, w) -> (B, h/p * w/p, D).
  // VPT's prepend-pixel prompts.
  at::Tensor patch_tokens(const at::Tensor& pixels) const;
  const at::Tensor& patch_weight() const { return patch_weight_; }
  const at::Tensor& patch_bias() const { return patch_bias_; }
  // (B, T, D) -> (B, T, D): x += attn(norm1(x)); x += mlp(norm2(x)).
  // With `queries` = q < T only the first q tokens' outputs are computed (B, q, D): keys and
  // values still come from every token, so those rows are exact. Token pooling needs only the
  // CLS row of the last block, which skips most of that block's work.
  // With `kv_rows` (B or 1, n, D) defined, those rows join the block as keys and values only:
  // the block attends over x's rows and kv_rows (wherever the rows sit in the stream: attention
  // without a mask does not depend on the keys' order) but computes (and returns) only x's
  // rows. VPT-deep's prompt rows are such rows: the next block overwrites their outputs. One kv_rows row
  // shared by the batch (size 1 in dim 0) gets its keys and values computed once; so do G
  // rows sets (size G in dim 0, G dividing B) each shared by B / G consecutive samples (the
  // stacked group step, grouped_forward.h).
  at::Tensor block_forward(int64_t index, const at::Tensor& x, int64_t queries = -1,
                           const at::Tensor& kv_rows = at::Tensor()) const;
  // The same block split at its residual adds, so that each add can run as one op with the
  // LayerNorm after it (add_layer_norm.h: the fused kernels, or with `fused` false the same in
  // ATen ops). `x` enters with `h` = norm1(x) already computed; returns {y, m}: the block's
  // output is y + m, left for the caller to combine with what follows (block_input of the
  // next block, or a plain add after the last). block_forward is this with fused false.
  // `kv_h` = norm1(kv_rows) (block_input of the rows), or undefined: as in block_forward.
  std::pair<at::Tensor, at::Tensor> block_forward_normed(int64_t index, const at::Tensor& x, const at::Tensor& h,
                                                         int64_t queries, bool fused,
                                                         const at::Tensor& kv_h = at::Tensor()) const;
  // {s, norm1(s)} for block `index`, s = x + r (r may be undefined) with rows
  // [rows_start, rows_start + n) of s replaced by `rows` (B, n, D) when it is defined.
  AddNorm block_input(int64_t index, const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows,
                      int64_t rows_start, bool fused) const;
  // Final norm, pooling over tokens after `skip_prefix` leading ones ("avg"; "map": the attention
  // pool over them) or the first token ("token"), then fc_norm: (B, T, D) -> (B, D).
  at::Tensor pool(const at::Tensor& x, int64_t skip_prefix) const;
  // Final norm, the mean of rows [start, start + count), then fc_norm: (B, T, D) -> (B, D).
  // VPT's img_pool / prompt_pool / imgprompt_pool (prompted_vit.cc).
  at::Tensor pool_rows(const at::Tensor& x, int64_t start, int64_t count) const;

 private:
  at::Tensor attention(const VitBlock& b, const at::Tensor& x, int64_t queries, const at::Tensor& kv_h) const;
  at::Tensor mlp(const VitBlock& b, const at::Tensor& x) const;
  at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;
  AddNorm add_norm(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows, int64_t rows_start,
                   const at::Tensor& w, const at::Tensor& b, bool fused) const;

  VitConfig config_;
  at::Tensor patch_weight_, patch_bias_;        // (D, C, p, p), (D)
  at::Tensor cls_token_;                        // (1, 1, D)
  at::Tensor reg_token_;                        // (1, R, D)
  at::Tensor dist_token_;                       // (1, 1, D), dist_token only
  at::Tensor pos_embed_;                        // (1, [prefix +] P, D)
  at::Tensor norm_pre_weight_, norm_pre_bias_;  // pre_norm only
  std::vector<VitBlock> blocks_;
  at::Tensor norm_weight_, norm_bias_;        // final norm (absent with fc_norm)
  at::Tensor fc_norm_weight_, fc_norm_bias_;  // after pooling (fc_norm only)
  AttentionPool attn_pool_;                   // global_pool "map" only
  // rope: the (P, hd) sin / cos tables, made on the device of the first forward.
  mutable at::Tensor rope_sin_, rope_cos_;
  // t (B, H, n, hd): the first n of a block's T rows; rotates those that are patch tokens.
  at::Tensor rope_rows(const at::Tensor& t, int64_t T) const;
};

}  // namespace vpt
