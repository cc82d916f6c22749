// optimizer.h — SGD and AdamW with PyTorch's exact update rules (torch.optim, single-tensor
// path), parameter groups without weight decay for biases / norms / embeddings, and state
// that can be saved and restored by name.
//
//   SGD:   g = grad + wd * p;  buf = g (first step) | momentum * buf + g
//          p -= lr * (nesterov ? g + momentum * buf : buf)
//   AdamW: p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
//
// The update never waits for the device: whether it applies (the step's loss and gradient
// norm were finite) and the clipping factor are device scalars, the learning rate and bias
// corrections sit in a small device tensor written before the step, and every buffer is
// updated in place. So the step can be captured in a CUDA graph and replayed, and a skipped
// step leaves parameters and buffers bit for bit as they were. The host learns afterwards
// whether the step applied (commit()).
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "model/named_tensor.h"
#include "weights/tensor_file.h"

namespace vpt {

struct OptimizerConfig {
  std::string kind = "sgd";  // "sgd" | "adamw"
  double lr = 0.1;
  double momentum = 0.9;
  bool nesterov = false;
  double weight_decay = 0.0;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
};

// True for tensors that get no weight decay: biases, 1-D tensors (norm weights, LayerScale)
// and the embeddings timm excludes (cls_token, reg_token, pos_embed).
bool exempt_from_weight_decay(const NamedTensor& t);

class Optimizer {
 public:
  explicit Optimizer(const OptimizerConfig& config) : config_(config) {}

  const OptimizerConfig& config() const { return config_; }
  void set_lr(double lr) { config_.lr = lr; }
  int64_t step_count() const { return step_; }

  // Writes this step's learning rate and bias corrections (for step_count() + 1) into the
  // device tensor step() reads. Runs outside a captured graph, before each replay.
  void prepare(const at::Device& device);
  // One update of every tensor that has a gradient, scaled by `grad_scale` (float scalar on
  // the device) and applied only where `apply` (bool scalar on the device) is true.
  // Gradients are left untouched. Call prepare() first.
  void step(const NamedTensors& params, const at::Tensor& apply, const at::Tensor& grad_scale);
  // Once the host knows whether the prepared step applied: counts it, or forgets the buffers
  // a skipped first step created (so state looks as if the step never happened).
  void commit(bool applied);
  // Changes whenever buffers are replaced (import_state): a captured step must be re-captured.
  uint64_t generation() const { return generation_; }

  // Momentum / moment buffers as "optim.<buffer>.<param name>" -> tensor (CPU, fp32).
  TensorMap export_state() const;
  void import_state(const TensorMap& state, int64_t step, const NamedTensors& params);

 private:
  OptimizerConfig config_;
  int64_t step_ = 0;
  uint64_t generation_ = 0;
  std::map<std::string, at::Tensor> momentum_, exp_avg_, exp_avg_sq_;
  std::vector<std::string> created_;  // buffers the prepared step created
  at::Tensor hyper_;                  // [lr, lr / (1 - b1^t), sqrt(1 - b2^t)] on the device
};

}  // namespace vpt
