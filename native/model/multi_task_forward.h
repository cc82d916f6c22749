// multi_task_forward.h — one frozen backbone serving many VPT tasks in one pass.
//
// Each task is a trainable state trained on this backbone: prompts (none for linear probing)
// and a head. A forward takes images and a list of requests (image, task); every request gets
// its own task's prompts, shallow and at every deep layer, and its own head:
//
//   group the requests by prompt shape: (linear) | (N tokens, shallow) | (N tokens, deep)
//   linear:  features = pool(blocks(embed(images))) once per distinct image; head_t per request
//   prompts: x = embed(images[requests])                           (B, prefix + P, D)
//            P_i = stack(prompts of each request's task at block i) (B, N, D)
//            shallow: x = [x[:, :prefix], P_0, x[:, prefix:]], then the blocks as they are
//            deep:    block i sees P_i as key / value rows (vit.h block_forward's kv_rows),
//                     as PromptedVit does with skip_discarded_prompt_rows
//            logits = head_t(pool(x)) per request
// Results equal each task's own PromptedVit::logits (fp32, no dropout) to float rounding:
// the same ops, with per-sample instead of batch-shared prompt rows.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "model/backbone_fingerprint.h"
#include "model/head.h"
#include "model/prompt.h"
#include "model/prompted_vit.h"
#include "model/vit.h"
#include "weights/tensor_file.h"

namespace vpt {

// A task's shape: its prompts (tokens 0 for linear probing) and head.
struct TaskConfig {
  PromptConfig prompt;
  int64_t num_classes = 0;
  int64_t head_hidden_layers = 0;
};

// One request of a forward: image `image` (an index into the batch) classified by task `task`.
struct TaskRequest {
  int64_t image = 0;
  int64_t task = 0;
};

class MultiTaskVit {
 public:
  MultiTaskVit(const VitConfig& vit, const std::string& device);

  // Loads the timm backbone (Google layouts adapted, pos_embed resampled; `head.*` ignored) in
  // float32 on the device; every misfit is named in one VPT_WEIGHTS error.
  void load_backbone(const TensorMap& weights);
  const BackboneFingerprint& fingerprint() const { return fingerprint_; }

  // Adds a task from its trainable tensors (exactly the task's tensors, else VPT_SHAPE naming
  // each misfit); returns its index. Prompt dropout does not apply: serving is inference.
  int64_t add_task(const TaskConfig& config, const TensorMap& tensors);
  int64_t num_tasks() const { return static_cast<int64_t>(tasks_.size()); }
  const TaskConfig& task_config(int64_t task) const;

  // images (M, C, S, S); one (C_t,) logits row per request, in request order.
  std::vector<at::Tensor> forward(const at::Tensor& images, const std::vector<TaskRequest>& requests);

  // Bytes of the backbone's weights, and of every task's tensors, on the device.
  int64_t backbone_bytes();
  int64_t task_bytes(int64_t task);
  const at::Device& device() const { return device_; }

  // Serialises native calls (forwards run on the wrapper's thread; tasks may be added meanwhile).
  std::mutex& mutex() { return mutex_; }

 private:
  struct Task {
    TaskConfig config;
    std::unique_ptr<Prompts> prompts;
    std::unique_ptr<Head> head;
    at::Tensor block_prompts;  // (L or 1, N, D): the projected tokens entering each block; undefined for linear
  };

  // Pooled features of `images` (B, C, S, S) with per-sample prompt rows `prompts` (B, L or 1, N, D),
  // or none (undefined): (B, D).
  at::Tensor features(const at::Tensor& images, const at::Tensor& prompts, bool deep);
  void check_images(const at::Tensor& images) const;

  VitConfig vit_config_;
  at::Device device_;
  VisionTransformer vit_;
  std::vector<Task> tasks_;
  BackboneFingerprint fingerprint_;
  bool backbone_loaded_ = false;
  std::mutex mutex_;
};

}  // namespace vpt
