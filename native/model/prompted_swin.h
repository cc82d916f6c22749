// prompted_swin.h — VPT's prompted Swin (KMnP/vpt src/models/vit_prompt/swin_transformer.py):
// a frozen timm Swin + prompts + task head.
//
//   prompts = prompt_embeddings (1, N, C0), one per image
//   stage 0, block 0: the prompts; block j > 0 (deep): deep_prompt_embeddings_0[j - 1]
//   stage s > 0: the merged prompts from stage s - 1 (shallow), or (deep) block j takes
//                deep_prompt_embeddings_s[j]                                    (d_s, N, C_s)
//   logits = head(mean over the final norm's map positions and prompt rows)
// Inside a block the prompt rows join every window of their image (swin.h) and their outputs
// are averaged over those windows. KMnP replicates and averages across the whole batch
// (its windows are ordered image by image, its prompts window by window), which mixes the
// images of a batch; here each image has its own prompts, which equals KMnP on one image.
// Prompt dropout: per image on the shallow prompts, one mask per deep set (as KMnP's
// Dropout on the expanded / unexpanded tensors).
#pragma once

#include <ATen/ATen.h>

#include <mutex>
#include <string>

#include "model/head.h"
#include "model/named_tensor.h"
#include "model/prompted_vit.h"  // Transfer
#include "model/swin.h"
#include "weights/tensor_file.h"

namespace vpt {

struct SwinModelConfig {
  SwinConfig swin;
  int64_t prompt_tokens = 0;  // N; 0: no prompts
  bool deep = false;
  double prompt_dropout = 0.0;
  int64_t num_classes = 0;
  int64_t head_hidden_layers = 0;
  Transfer transfer = Transfer::Prompt;
  std::string device = "cpu";
  uint64_t seed = 0;
};

class PromptedSwin {
 public:
  explicit PromptedSwin(const SwinModelConfig& config);

  // timm weights; every missing, unexpected and mis-shaped tensor named in one error; the
  // checkpoint's classifier and timm's recomputed buffers are ignored.
  void load_backbone(const TensorMap& weights);
  bool backbone_loaded() const { return backbone_loaded_; }

  at::Tensor logits(const at::Tensor& images, bool train);    // (B, C)
  at::Tensor features(const at::Tensor& images, bool train);  // (B, C_last)
  at::Tensor classify(const at::Tensor& features);

  void set_class_weights(const at::Tensor& weights);
  const at::Tensor& class_weights() const { return class_weights_; }
  at::Generator& dropout_rng() { return dropout_rng_; }

  NamedTensors prompt_tensors();
  NamedTensors trainable_tensors();
  NamedTensors backbone_tensors() { return swin_.named_tensors(); }
  NamedTensors all_tensors();
  TensorMap export_trainable();
  void check_trainable(const TensorMap& tensors);
  void import_trainable(const TensorMap& tensors);

  int64_t trainable_params();
  int64_t total_params();
  int64_t backbone_bytes() { return swin_.bytes(); }
  const at::Device& device() const { return device_; }
  const SwinModelConfig& config() const { return config_; }
  std::mutex& mutex() { return mutex_; }

 private:
  void check_images(const at::Tensor& images) const;
  // Prompt set (1 or d, N, C) with dropout when training.
  at::Tensor dropped(const at::Tensor& p, at::Generator* rng) const;

  SwinModelConfig config_;
  at::Device device_;
  SwinTransformer swin_;
  at::Tensor prompt_embeddings_;                    // (1, N, C0)
  std::vector<at::Tensor> deep_prompt_embeddings_;  // per stage: (d_0 - 1 | d_s, N, C_s)
  Head head_;
  at::Generator dropout_rng_;
  at::Tensor class_weights_;
  bool backbone_loaded_ = false;
  std::mutex mutex_;
};

}  // namespace vpt
