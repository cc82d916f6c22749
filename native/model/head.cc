// head.cc — see head.h.
#include "model/head.h"

#include <cmath>
#include <string>

#include "runtime/errors.h"

namespace vpt {

namespace {
const double kBatchNormMomentum = 0.1;  // nn.BatchNorm1d's defaults
const double kBatchNormEps = 1e-5;
}  // namespace

Head::Head(int64_t in_dim, int64_t num_classes, int64_t hidden_layers, double dropout)
    : in_dim_(in_dim),
      num_classes_(num_classes),
      dropout_(dropout),
      hidden_weights_(static_cast<size_t>(hidden_layers)),
      hidden_biases_(static_cast<size_t>(hidden_layers)),
      norm_weights_(static_cast<size_t>(hidden_layers)),
      norm_biases_(static_cast<size_t>(hidden_layers)),
      running_means_(static_cast<size_t>(hidden_layers)),
      running_vars_(static_cast<size_t>(hidden_layers)) {
  if (dropout < 0 || dropout >= 1) throw Error(kErrArgument, "the head's dropout must be in [0, 1)");
}

NamedTensors Head::named_tensors() {
  NamedTensors out;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    const std::string pre = "head.layers." + std::to_string(i) + ".";
    out.push_back({pre + "weight", {in_dim_, in_dim_}, &hidden_weights_[i]});
    out.push_back({pre + "bias", {in_dim_}, &hidden_biases_[i]});
    out.push_back({pre + "norm.weight", {in_dim_}, &norm_weights_[i]});
    out.push_back({pre + "norm.bias", {in_dim_}, &norm_biases_[i]});
  }
  out.push_back({"head.weight", {num_classes_, in_dim_}, &weight_});
  out.push_back({"head.bias", {num_classes_}, &bias_});
  return out;
}

NamedTensors Head::named_buffers() {
  NamedTensors out;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    const std::string pre = "head.layers." + std::to_string(i) + ".norm.";
    out.push_back({pre + "running_mean", {in_dim_}, &running_means_[i]});
    out.push_back({pre + "running_var", {in_dim_}, &running_vars_[i]});
  }
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
    norm_weights_[i] = at::ones({in_dim_}, at::kFloat);
    norm_biases_[i] = at::zeros({in_dim_}, at::kFloat);
    running_means_[i] = at::zeros({in_dim_}, at::kFloat);
    running_vars_[i] = at::ones({in_dim_}, at::kFloat);
  }
  weight_ = weight(num_classes_, in_dim_);
  bias_ = at::zeros({num_classes_}, at::kFloat);
}

at::Tensor Head::forward(const at::Tensor& features, bool train, at::Generator* dropout_rng) {
  at::Tensor x = features;
  for (size_t i = 0; i < hidden_weights_.size(); ++i) {
    x = at::relu(at::linear(x, hidden_weights_[i], hidden_biases_[i]));
    if (train && x.size(0) < 2) {
      throw Error(kErrShape, "the MLP head's BatchNorm needs batches of at least 2 samples in training");
    }
    // BatchNorm runs in fp32 (as autocast runs it); train updates the running statistics in place.
    x = at::batch_norm(x.to(at::kFloat), norm_weights_[i], norm_biases_[i], running_means_[i], running_vars_[i], train,
                       kBatchNormMomentum, kBatchNormEps, /*cudnn_enabled=*/true);
    if (train && dropout_rng != nullptr && dropout_ > 0) {
      const double keep = 1.0 - dropout_;
      at::Tensor mask = at::empty(x.sizes(), x.options().requires_grad(false)).bernoulli_(keep, *dropout_rng);
      x = x * mask / keep;
    }
  }
  return at::linear(x, weight_, bias_);
}

}  // namespace vpt
