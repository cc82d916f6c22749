// head.cc — see head.h.
#include "model/head.h"

#include <cmath>
#include <string>

namespace vpt {

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
  const auto weight = [&](int64_t out, int64_t in) {
    return at::empty({out, in}, at::kFloat).normal_(0.0, std::sqrt(2.0 / static_cast<double>(out)), generator);
  };
  const double bound = 1.0 / std::sqrt(static_cast<double>(in_dim_));
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    hidden_weights_[i] = weight(in_dim_, in_dim_);
    hidden_biases_[i] = at::empty({in_dim_}, at::kFloat).uniform_(-bound, bound, generator);
  }
  weight_ = weight(num_classes_, in_dim_);
  bias_ = at::zeros({num_classes_}, at::kFloat);
}

at::Tensor Head::forward(const at::Tensor& features) const {
  at::Tensor x = features;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    x = at::relu(at::linear(x, hidden_weights_[i], hidden_biases_[i]));
  }
  return at::linear(x, weight_, bias_);
}

}  // namespace vpt
