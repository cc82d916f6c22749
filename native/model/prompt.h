// prompt.h — VPT's learnable prompt tokens (Jia et al., ECCV 2022).
//
//   prompt_embeddings        (1, N, Pd)     inserted after the prefix tokens before block 0
//                                           (absent with reverse_deep)
//   deep_prompt_embeddings   (S, N, Pd)     replace the N prompt slots before blocks 1..L-1 (deep);
//                                           S = L-1, k-1 with deep_layers k, k reversed, none shared
// Which set enters which block: deep_prompt_schedule.h.
//   prompt_proj              Linear(Pd, D)  only when project = Pd > 0; otherwise Pd = D
// Prompts carry no position embedding. Dropout applies to the projected tokens in training.
// The pixel-space locations (shallow only; no dropout, no projection, as in KMnP/vpt) hold
// instead (C = 3 channels, p patch, S input size):
//   prepend-pixel*   prompt_embeddings (1, C, p, p*N): N patches put through the backbone's patch
//                    embedding (no position embedding), prepended after the prefix tokens
//   pad              prompt_embeddings_tb (1, C, 2N, S+2N), prompt_embeddings_lr (1, C, S, 2N): a
//                    border of width N around the image, which grows to S+2N
//   below            prompt_embeddings (1, N, S, S): N channels after the image's C, and the
//                    patch embedding of C+N channels patch_embeddings.weight (D, C+N, p, p) /
//                    .bias (D), trained too (its first C channels start from the backbone's)
#pragma once

#include <ATen/ATen.h>

#include "model/named_tensor.h"

namespace vpt {

// What the head pools (KMnP/vpt MODEL.PROMPT.VIT_POOL_TYPE): the backbone's own pooling
// ("original"), or the mean of the image rows, the prompt rows, or both, after the final norm.
enum class PromptPool { kOriginal, kImage, kPrompt, kImagePrompt };

// Where the prompts go (KMnP/vpt MODEL.PROMPT.LOCATION): prepended after the prefix tokens, or
// added to every token: "add" one learnable row per token (N = prefix + patches), "add-1" one
// row added to all of them (N = 1). Added prompts are no rows of their own. The pixel-space
// locations (see above): prepend-pixel with VPT's uniform init, -gaussian with N(0, 1),
// -imgnettransform with uniform(0, 1) pixels normalised by ImageNet's mean / std; pad (its
// pixels uniform(0, 1), normalised so); below.
enum class PromptLocation {
  kPrepend,
  kAdd,
  kAddOne,
  kPrependPixel,
  kPrependPixelGaussian,
  kPrependPixelImagenet,
  kPad,
  kBelow
};
// Pixel prompts put through the patch embedding and prepended (prepend-pixel*).
inline bool is_pixel_prepend(PromptLocation l) {
  return l == PromptLocation::kPrependPixel || l == PromptLocation::kPrependPixelGaussian ||
         l == PromptLocation::kPrependPixelImagenet;
}
// Prompts in pixel space: prepend-pixel*, pad, below.
inline bool is_pixel_space(PromptLocation l) {
  return is_pixel_prepend(l) || l == PromptLocation::kPad || l == PromptLocation::kBelow;
}
// Prompts that are rows of the token stream (after the prefix): prepend, prepend-pixel*.
inline bool has_prompt_rows(PromptLocation l) { return l == PromptLocation::kPrepend || is_pixel_prepend(l); }
// Prompts that change the image before the patch embedding: pad, below.
inline bool is_input_prompt(PromptLocation l) { return l == PromptLocation::kPad || l == PromptLocation::kBelow; }

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
  // `image_size`: the input's S (before pad grows it); `channels`: its C.
  Prompts(const PromptConfig& config, int64_t embed_dim, int64_t depth, int64_t patch_size, int64_t image_size = 0,
          int64_t channels = 3);

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

  // prepend-pixel*: the prompt pixels as the patch embedding sees them (1, C, p, p*N), after
  // the ImageNet normalisation of -imgnettransform.
  at::Tensor pixel_prompts() const;
  // pad: `images` (B, C, S, S) inside the (normalised) border: (B, C, S+2N, S+2N).
  at::Tensor pad_images(const at::Tensor& images) const;
  // below: `images` (B, C, S, S) with the N prompt channels after them: (B, C+N, S, S).
  at::Tensor below_images(const at::Tensor& images) const;
  // below: the C+N-channel patch embedding (weight, bias).
  const at::Tensor& below_patch_weight() const { return below_weight_; }
  const at::Tensor& below_patch_bias() const { return below_bias_; }
  // below: the first C channels of the patch embedding and its bias from the backbone's, as
  // KMnP's load_from does (the other N channels keep their init).
  void seed_below_patch_embedding(const at::Tensor& weight, const at::Tensor& bias);

 private:
  at::Tensor project(const at::Tensor& p) const;

  PromptConfig config_;
  int64_t embed_dim_, depth_, patch_size_, image_size_, channels_;
  at::Tensor prompt_embeddings_;          // (1, N, Pd); pixel locations: see above
  at::Tensor prompt_tb_, prompt_lr_;      // pad
  at::Tensor below_weight_, below_bias_;  // below
  at::Tensor deep_prompt_embeddings_;     // (L-1, N, Pd)
  at::Tensor proj_weight_, proj_bias_;    // (D, Pd), (D)
};

}  // namespace vpt
