// optimizer.h — SGD and AdamW with PyTorch's exact update rules (torch.optim, single-tensor
// path), parameter groups without weight decay for biases / norms / embeddings, and state
// that can be saved and restored by name.
//
//   SGD:   g = grad + wd * p;  buf = g (first step) | momentum * buf + g
//          p -= lr * (nesterov ? g + momentum * buf : buf)
//   AdamW: p *= 1 - lr * wd;  m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//          p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
#pragma once

#include <torch/torch.h>

#include <map>
#include <string>

#include "named_tensor.h"
#include "tensor_file.h"

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

  // One update of every tensor that has a gradient; gradients are left untouched.
  void step(const NamedTensors& params);

  // Momentum / moment buffers as "optim.<buffer>.<param name>" -> tensor (CPU, fp32).
  TensorMap export_state() const;
  void import_state(const TensorMap& state, int64_t step, const NamedTensors& params);

 private:
  OptimizerConfig config_;
  int64_t step_ = 0;
  std::map<std::string, at::Tensor> momentum_, exp_avg_, exp_avg_sq_;
};

}  // namespace vpt
