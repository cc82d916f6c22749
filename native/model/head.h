// head.h — the task head, VPT's MLP head (KMnP/vpt src/models/mlp.py): `hidden_layers` x
// [Linear(D, D), ReLU, BatchNorm1d(D), Dropout(p)], then Linear(D, C).
// Checkpoint names: head.layers.{i}.weight/.bias for the hidden Linear layers,
// head.layers.{i}.norm.weight/.bias for their BatchNorm (running_mean / running_var are state,
// not parameters), head.weight/.bias last.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/named_tensor.h"

namespace vpt {

class Head {
 public:
  Head(int64_t in_dim, int64_t num_classes, int64_t hidden_layers, double dropout = 0.1);

  // The parameters (what an optimizer trains).
  NamedTensors named_tensors();
  // The BatchNorm running statistics: updated by training-mode forwards, read in eval mode.
  NamedTensors named_buffers();
  // As VPT's MLP head (src/models/mlp.py): weights kaiming_normal_(mode='fan_out'), i.e.
  // N(0, 2 / out_features); hidden biases nn.Linear's U(+-1/sqrt(in)); the last bias 0 (VPT's
  // constant -log 99 gives the same softmax and the same gradients); BatchNorm weight 1, bias
  // 0, running mean 0, running variance 1.
  void initialize(at::Generator& generator);
  // (B, D) -> (B, C). `train`: BatchNorm normalises with the batch's statistics and updates its
  // running ones (momentum 0.1), and dropout draws from `dropout_rng` (none: no dropout).
  at::Tensor forward(const at::Tensor& features, bool train = false, at::Generator* dropout_rng = nullptr);

 private:
  int64_t in_dim_, num_classes_;
  double dropout_;
  std::vector<at::Tensor> hidden_weights_, hidden_biases_;
  std::vector<at::Tensor> norm_weights_, norm_biases_, running_means_, running_vars_;
  at::Tensor weight_, bias_;
};

}  // namespace vpt
