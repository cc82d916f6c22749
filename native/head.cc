// head.cc — see head.h.
#include "head.h"

#include <string>

namespace vpt {

namespace {
constexpr double kHeadInitStd = 0.01;  // VPT's MLP head: trunc_normal_(std=0.01)
}

Head::Head(int64_t in_dim, int64_t num_classes, int64_t hidden_layers)
    : in_dim_(in_dim),
      num_classes_(num_classes),
      hidden_weights_(static_cast<size_t>(hidden_layers)),
      hidden_biases_(static_cast<size_t>(hidden_layers)) {}

NamedTensors Head::named_tensors() {
  NamedTensors out;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    const std::string pre = "head.layers." + std::to_string(i) + ".";
    out.push_back({pre + "weight", {in_dim_, in_dim_}, &hidden_weights_[i]});
    out.push_back({pre + "bias", {in_dim_}, &hidden_biases_[i]});
  }
  out.push_back({"head.weight", {num_classes_, in_dim_}, &weight_});
  out.push_back({"head.bias", {num_classes_}, &bias_});
  return out;
}

void Head::initialize(at::Generator& generator) {
  for (auto& t : named_tensors()) {
    at::Tensor fresh = at::zeros(t.shape, at::kFloat);
    if (t.shape.size() == 2) fresh.normal_(0.0, kHeadInitStd, generator).clamp_(-2.0, 2.0);
    *t.slot = fresh;
  }
}

at::Tensor Head::forward(const at::Tensor& features) const {
  at::Tensor x = features;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    x = at::relu(at::linear(x, hidden_weights_[i], hidden_biases_[i]));
  }
  return at::linear(x, weight_, bias_);
}

}  // namespace vpt
