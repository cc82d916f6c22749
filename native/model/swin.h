// swin.h — timm's SwinTransformer (timm >= 0.9 layout), as plain tensors and functional ops,
// with room for VPT's prompt rows (prompted_swin.h).
//
//   x = LayerNorm(conv_p(images))                       (B, H, W, C0), NHWC as timm keeps it
//   for stage s: (s > 0: patch merging: 2x2 neighbours concatenated, LayerNorm(4C), Linear(4C, 2C))
//                blocks: x += window_attn(norm1(x)); x += mlp(norm2(x))
//   features = mean over H, W of LayerNorm(x)           (B, C_last)
// Odd blocks of a stage shift the map by window / 2 before partitioning and mask attention
// between regions the roll brought together (-100, as timm). A stage whose map is no larger
// than the window uses the map as its one window and never shifts (timm's default
// always_partition = False; KMnP's original Swin does the same).
//
// Prompt rows (B, N, C) ride along each stage beside the map: in every window they are
// prepended as extra tokens with zero relative-position bias and no mask, their outputs are
// averaged over the image's windows, and they go through the residuals and MLP as tokens.
// Patch merging turns them into [p, p, p, p] before its norm and reduction.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <utility>
#include <vector>

#include "model/named_tensor.h"
#include "weights/tensor_file.h"

namespace vpt {

struct SwinConfig {
  int64_t img_size = 224;
  int64_t patch_size = 4;
  int64_t in_chans = 3;
  int64_t embed_dim = 128;
  std::vector<int64_t> depths{2, 2, 18, 2};
  std::vector<int64_t> num_heads{4, 8, 16, 32};
  int64_t window_size = 7;
  double mlp_ratio = 4.0;
  double norm_eps = 1e-5;  // nn.LayerNorm's default, which timm's Swin uses

  int64_t stages() const { return static_cast<int64_t>(depths.size()); }
  int64_t dim(int64_t stage) const { return embed_dim << stage; }
  int64_t resolution(int64_t stage) const { return (img_size / patch_size) >> stage; }
  // The window a stage's blocks use: the configured one, or the whole map when that is smaller.
  int64_t window(int64_t stage) const { return std::min(window_size, resolution(stage)); }
  int64_t shift(int64_t stage, int64_t block) const {
    return block % 2 == 1 && resolution(stage) > window_size ? window_size / 2 : 0;
  }
  int64_t num_features() const { return dim(stages() - 1); }
  int64_t total_blocks() const {
    int64_t n = 0;
    for (int64_t d : depths) n += d;
    return n;
  }
};

// Throws VPT_ARGUMENT naming what does not fit (maps that do not halve evenly, windows that
// do not tile the map, heads that do not divide the width).
void check_swin_config(const SwinConfig& config);

struct SwinBlock {
  at::Tensor norm1_weight, norm1_bias;
  at::Tensor qkv_weight, qkv_bias;
  at::Tensor bias_table;  // relative_position_bias_table ((2w - 1)^2, heads)
  at::Tensor proj_weight, proj_bias;
  at::Tensor norm2_weight, norm2_bias;
  at::Tensor fc1_weight, fc1_bias, fc2_weight, fc2_bias;
};

struct SwinStage {
  at::Tensor merge_norm_weight, merge_norm_bias, merge_reduction;  // stage > 0: layers.{s}.downsample
  std::vector<SwinBlock> blocks;
};

// The stream between blocks: the map and, when prompted, the prompt rows beside it.
struct SwinStream {
  at::Tensor x;        // (B, H, W, C)
  at::Tensor prompts;  // (B, N, C) or undefined
};

class SwinTransformer {
 public:
  explicit SwinTransformer(const SwinConfig& config);

  const SwinConfig& config() const { return config_; }
  // Every tensor under its timm name, with the shape the config implies.
  NamedTensors named_tensors();
  // A checkpoint's classifier (`head.*`): a task brings its own head.
  static bool is_checkpoint_head(const std::string& name) { return name.rfind("head.", 0) == 0; }
  // Buffers timm computes and some exports carry: recomputed here, so accepted and ignored.
  static bool is_recomputed_buffer(const std::string& name);

  // (B, 3, H, W) -> (B, H/p, W/p, C0).
  at::Tensor embed(const at::Tensor& images) const;
  // Patch merging at the start of `stage` (> 0), prompts included.
  SwinStream merge(int64_t stage, const SwinStream& s) const;
  SwinStream block_forward(int64_t stage, int64_t block, const SwinStream& s) const;
  // Final norm and the mean over every map position and (when present) prompt row: (B, C).
  at::Tensor pool(const SwinStream& s) const;

  int64_t bytes() {
    int64_t n = 0;
    for (auto& t : named_tensors())
      if (t.slot->defined()) n += static_cast<int64_t>(t.slot->nbytes());
    return n;
  }

 private:
  // (attention output of the map (B, H, W, C), of the prompt rows (B, N, C) or undefined).
  std::pair<at::Tensor, at::Tensor> window_attention(int64_t stage, int64_t block, const at::Tensor& h,
                                                     const at::Tensor& hp) const;
  at::Tensor layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const;
  // (heads, N + w^2, N + w^2): the block's relative-position bias, zero on the N prompt rows / columns.
  at::Tensor position_bias(const SwinBlock& b, int64_t window, int64_t prompts) const;
  // (nW, N + w^2, N + w^2) shifted-window mask of `stage` (0 / -100), zero on the prompts.
  at::Tensor shift_mask(int64_t stage, int64_t prompts, const at::Device& device) const;

  SwinConfig config_;
  at::Tensor patch_weight_, patch_bias_, patch_norm_weight_, patch_norm_bias_;
  std::vector<SwinStage> stages_;
  at::Tensor norm_weight_, norm_bias_;
};

}  // namespace vpt
