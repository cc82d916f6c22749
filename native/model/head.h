// head.h — the task head: optional hidden Linear(D, D) + ReLU layers, then Linear(D, C).
// Checkpoint names: head.layers.{i}.weight/.bias for hidden layers, head.weight/.bias last.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "model/named_tensor.h"

namespace vpt {

class Head {
 public:
  Head(int64_t in_dim, int64_t num_classes, int64_t hidden_layers);

  NamedTensors named_tensors();
  // As VPT's MLP head (src/models/mlp.py): weights kaiming_normal_(mode='fan_out'), i.e.
  // N(0, 2 / out_features); hidden biases nn.Linear's U(+-1/sqrt(in)); the last bias 0 (VPT's
  // constant -log 99 gives the same softmax and the same gradients).
  void initialize(at::Generator& generator);
  at::Tensor forward(const at::Tensor& features) const;  // (B, D) -> (B, C)

 private:
  int64_t in_dim_, num_classes_;
  std::vector<at::Tensor> hidden_weights_, hidden_biases_;
  at::Tensor weight_, bias_;
};

}  // namespace vpt
