// prompted_vit.h — the VPT model: frozen timm ViT + prompts + task head.
//
//   x = embed(images)                               (B, prefix + P, D)
//   x = [x[:, :prefix], prompts_0, x[:, prefix:]]   (B, prefix + N + P, D)
//   for i in 0..L-1:
//     deep and i > 0: x[:, prefix:prefix+N] = prompts_i
//     x = block_i(x)        (fused_norm: the insertion runs inside block i's first add + LayerNorm)
//   logits = head(pool(x))                          (B, C)
// That is the default schedule; the deep variants (first / last k blocks, one shared set, rows
// dropped after the prompted blocks) and the pool types are in deep_prompt_schedule.h / prompt.h.
// The pixel-space locations (prompt.h) change only the start: prepend-pixel's rows come from
// the patch embedding of prompt pixels; pad embeds the image inside a learnable border (the
// backbone runs at S + 2N), below embeds it with N learnable channels more.
// VPT-deep with skip_discarded_prompt_rows (the default) computes the same without the work
// whose results are overwritten: the prompt rows' outputs of every block are replaced by the
// next block's prompts (or, after the last, not pooled). The stream then holds only
// [x[:, :prefix], x[:, prefix + N:]] and each block gets its prompts as key / value rows
// (vit.h block_forward's kv_rows): their LayerNorm, keys and values are computed, their
// queries, attention output, projection, residuals and MLP are not.
#pragma once

#include <ATen/ATen.h>

#include <mutex>
#include <string>
#include <vector>

#include "model/deep_prompt_schedule.h"
#include "model/head.h"
#include "model/prompt.h"
#include "model/side_network.h"
#include "model/vit.h"
#include "weights/tensor_file.h"

namespace vpt {

// What trains besides the head (and the prompts, when there are any). VPT's Table 1 baselines
// (KMnP/vpt MODEL.TRANSFER_TYPE): Partial the last `partial_blocks` blocks and the final norm
// ("partial-k"), Bias every bias of the backbone ("tinytl-bias", BitFit), Adapter a Pfeiffer
// adapter per block ("adapter"), Sidetune an AlexNet side network mixed into the features
// ("side", side_network.h).
enum class Transfer { Prompt, Linear, Full, Partial, Bias, Adapter, Sidetune };

struct ModelConfig {
  VitConfig vit;
  PromptConfig prompt;
  int64_t num_classes = 0;
  int64_t head_hidden_layers = 0;
  double head_dropout = 0.1;  // the MLP head's dropout after each hidden layer (VPT: 0.1)
  Transfer transfer = Transfer::Prompt;
  int64_t partial_blocks = 0;     // Transfer::Partial: how many of the last blocks train
  int64_t adapter_reduction = 8;  // Transfer::Adapter: adapter width D / reduction (VPT's REDUCATION_FACTOR)
  std::string device = "cpu";
  uint64_t seed = 0;
  bool bf16 = false;  // autocast the forward pass to bfloat16 (trainable tensors stay fp32)
  // Store the frozen backbone's weights in bfloat16 (half the memory, no per-step weight
  // casts; LayerNorm weights stay fp32); the backbone then always runs under bf16 autocast.
  // Not for Transfer::Full.
  bool bf16_backbone = false;
  bool checkpoint_blocks = false;  // recompute frozen blocks in the backward pass (less memory)
  // Run each residual add, the LayerNorm after it and the deep-prompt insertion as one fused
  // op (add_layer_norm.h); off: one ATen op each. Not with checkpoint_blocks.
  bool fused_norm = false;
  // VPT-deep: compute of the prompt rows only what is read (their keys and values), see above.
  // Off: every row of every block, as timm does (same results within float rounding).
  bool skip_discarded_prompt_rows = true;
  // Average and MAP pooling read the prompt tokens' outputs too (timm pools the tokens after
  // num_prefix_tokens; off, the default, prompts count as prefix tokens and are left out).
  bool pool_prompts = false;
};

class PromptedVit {
 public:
  // Allocates the task tensors (prompts, head) and initialises them from `seed`; the
  // backbone stays empty until load_backbone().
  explicit PromptedVit(const ModelConfig& config);

  // Loads the timm backbone. Every missing, unexpected and mis-shaped tensor is named in one
  // error; the checkpoint's classifier (`head.*`) is ignored. Moves everything to the device.
  void load_backbone(const TensorMap& weights);
  bool backbone_loaded() const { return backbone_loaded_; }
  // Transfer::Sidetune: the side network's AlexNet convolutions from torchvision's state dict
  // (side_network.h; `path` names the file in errors). A trainable state imported instead
  // brings them, too.
  void load_side(const TensorMap& weights, const std::string& path);
  // Makes this model's backbone `source`'s tensors themselves, no copy (share_backbone.cc):
  // models that never write their backbone (prompt tuning, linear probing) can hold one between
  // them. Refused (VPT_OPTION, saying why) when either model trains backbone tensors, and
  // when the backbones differ in tensors, shapes, storage dtype or device.
  void share_backbone(PromptedVit& source);
  // True when the backbone came from share_backbone() (or was lent to another model by it).
  bool backbone_shared() const { return backbone_shared_; }

  // `train` enables prompt dropout (the backbone always runs in eval mode).
  at::Tensor logits(const at::Tensor& images, bool train);    // (B, C)
  at::Tensor features(const at::Tensor& images, bool train);  // (B, D)
  // Head only: (B, D) -> (B, C); `train`: the MLP head's BatchNorm and dropout in training mode.
  at::Tensor classify(const at::Tensor& features, bool train = false);
  // Blocks below the first prompted block (reverseDeep: L - k) see no prompts and are frozen:
  // for prompt tuning their output depends on the image alone. stem() runs the embedding and
  // those blocks without autograd, (B, 3, H, W) -> (B, prefix + P, D); logits_from_stem() the
  // rest: logits_from_stem(stem(x)) == logits(x). 0 blocks when none qualify.
  // The class token entering each block, then the last block's output (before the final
  // norm), without prompts: (B, 3, H, W) -> (B, L + 1, D). VPT's CLS-embedding prompt inits
  // (INITIATION final-cls / cls-nolastl / cls-nofirstl) read per-class means of these.
  at::Tensor cls_layerwise(const at::Tensor& images);
  int64_t stem_blocks() const;
  at::Tensor stem(const at::Tensor& images);
  at::Tensor logits_from_stem(const at::Tensor& hidden, bool train);

  // Per-class loss weights (C,) on the device, or undefined for none.
  void set_class_weights(const at::Tensor& weights);
  const at::Tensor& class_weights() const { return class_weights_; }

  // Seeded generator for prompt dropout; its state is part of the training state.
  at::Generator& dropout_rng() { return dropout_rng_; }

  // The tensors this transfer mode trains, under their trainable-state names.
  NamedTensors trainable_tensors();
  // What the trainable-state file holds: trainable_tensors() and the MLP head's BatchNorm
  // running statistics (state that training changes, but no optimizer does).
  NamedTensors state_tensors();
  // True when this transfer mode trains backbone tensors (full, partial-k, bias).
  bool trains_backbone() const;
  // Every tensor of the model: backbone, adapters, prompts, head.
  NamedTensors all_tensors();
  NamedTensors backbone_tensors() { return vit_.named_tensors(); }
  TensorMap export_trainable();
  // Throws (VPT_SHAPE, naming every misfit) unless `tensors` fits the trainable tensors exactly.
  void check_trainable(const TensorMap& tensors);
  // Checks names and shapes of every tensor against the model before changing any.
  void import_trainable(const TensorMap& tensors);

  int64_t trainable_params();
  int64_t total_params();
  // Bytes the backbone's weights occupy on the device (0 before load_backbone()).
  int64_t backbone_bytes();
  const at::Device& device() const { return device_; }
  const ModelConfig& config() const { return config_; }

  // Changes whenever a tensor the training step reads is replaced rather than updated in
  // place (backbone, class weights): a captured step must then be captured again.
  uint64_t generation() const { return generation_; }

  // Serialises native calls on one model (the JS side may issue several at once).
  std::mutex& mutex() { return mutex_; }

 private:
  // The stacked group step (grouped_forward.h) runs these models' own prompt and head steps.
  friend class GroupedForward;

  // Through the final block: (B, T, D), (B, T - N, D) without the prompt rows
  // (schedule_'s kv blocks), or (B, 1, D) with token pooling.
  at::Tensor encode(const at::Tensor& images, bool train);
  // encode() from the stream entering block `first` (B, prefix + P, D), before its prompt step.
  at::Tensor encode_from(at::Tensor x, int64_t first, bool train);
  // The final norm and the pooling of encode()'s output (the prompt config's pool type): (B, D).
  at::Tensor pool_encoded(const at::Tensor& x) const;
  // encode()'s blocks without checkpointing, from the embedded, prompted stream
  // x (B, prefix + N + P, D): each residual add, the LayerNorm after it and the deep-prompt
  // insertion as one op (vit.h block_input), fused kernels with fused_norm, ATen ops without.
  at::Tensor run_blocks(const at::Tensor& x, at::Generator* rng, int64_t first = 0);
  // Rows of the last block's output that pooling reads: 1 with token pooling (2 with a
  // distillation token), else all (-1).
  int64_t queries_of(int64_t block) const;
  // Block i's prompts as kv_rows: (B, N, D), or (1, N, D) when the batch shares them.
  at::Tensor kv_prompts(int64_t block, int64_t batch, at::Generator* rng) const;
  // The stream x (B, T, D) after schedule_'s step before `block` (insert, replace or drop the
  // prompt rows after the prefix; unchanged for kKeep and key / value blocks without rows).
  at::Tensor apply_prompt_step(int64_t block, const at::Tensor& x, at::Generator* rng) const;
  // The backbone runs in bf16 when asked to, and always when its weights are bf16.
  bool backbone_autocast() const { return config_.bf16 || config_.bf16_backbone; }
  void check_images(const at::Tensor& images) const;
  // The embedded stream (B, prefix + P, D) of the images, with pad's border or below's channels.
  at::Tensor embed_images(const at::Tensor& images) const;
  // Prompt set `set` as rows of the stream (B, N, D): Prompts::tokens_for_block, or the
  // prepend-pixel prompts through the patch embedding.
  at::Tensor prompt_rows(int64_t set, int64_t batch, at::Generator* rng) const;

  ModelConfig config_;  // pad: config_.vit.img_size is the grown S + 2N the backbone runs at
  int64_t input_size_;  // the images' S
  at::Device device_;
  VisionTransformer vit_;
  Prompts prompts_;
  PromptSchedule schedule_;  // which prompts enter which block (deep_prompt_schedule.h)
  Head head_;
  SideNetwork side_;  // Transfer::Sidetune only
  bool side_loaded_ = false;
  at::Generator dropout_rng_;
  at::Tensor class_weights_;
  bool backbone_loaded_ = false;
  bool below_seeded_ = false;  // below: the patch embedding took the backbone's channels
  bool backbone_shared_ = false;
  uint64_t generation_ = 0;
  std::mutex mutex_;
};

at::Device parse_device(const std::string& spec);

}  // namespace vpt
