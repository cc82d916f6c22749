// side_network.cc — see side_network.h.
#include "model/side_network.h"

#include <ATen/core/grad_mode.h>

#include <cmath>
#include <set>
#include <string>

#include "model/fit_report.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

// torchvision's AlexNet features: (index in `features`, out channels, in channels, kernel, stride, padding).
struct Conv {
  int index;
  int64_t out, in, kernel, stride, padding;
};
constexpr Conv kConvs[5] = {{0, 64, 3, 11, 4, 2},
                            {3, 192, 64, 5, 1, 2},
                            {6, 384, 192, 3, 1, 1},
                            {8, 256, 384, 3, 1, 1},
                            {10, 256, 256, 3, 1, 1}};
constexpr int64_t kSideFeatures = 256 * 6 * 6;  // 9216

}  // namespace

SideNetwork::SideNetwork(int64_t embed_dim) : embed_dim_(embed_dim) {
  if (!enabled()) return;
  for (int i = 0; i < 5; ++i) {
    const Conv& c = kConvs[i];
    conv_weight_[i] = at::zeros({c.out, c.in, c.kernel, c.kernel}, at::kFloat);
    conv_bias_[i] = at::zeros({c.out}, at::kFloat);
  }
  projection_ = at::zeros({embed_dim_, kSideFeatures}, at::kFloat);
  alpha_ = at::zeros({}, at::kFloat);
}

NamedTensors SideNetwork::named_tensors() {
  NamedTensors out;
  if (!enabled()) return out;
  for (int i = 0; i < 5; ++i) {
    const Conv& c = kConvs[i];
    const std::string prefix = "side.features." + std::to_string(c.index) + ".";
    out.push_back({prefix + "weight", {c.out, c.in, c.kernel, c.kernel}, &conv_weight_[i]});
    out.push_back({prefix + "bias", {c.out}, &conv_bias_[i]});
  }
  out.push_back({"side_projection.weight", {embed_dim_, kSideFeatures}, &projection_});
  out.push_back({"side_alpha", {}, &alpha_});
  return out;
}

void SideNetwork::initialize(at::Generator& generator) {
  if (!enabled()) return;
  const double bound = 1.0 / std::sqrt(static_cast<double>(kSideFeatures));
  projection_ = at::empty({embed_dim_, kSideFeatures}, at::kFloat).uniform_(-bound, bound, generator);
  alpha_ = at::zeros({}, at::kFloat);
}

void SideNetwork::load_alexnet(const TensorMap& weights, const std::string& path) {
  FitReport report;
  auto& [missing, misshaped, unexpected] = report;
  std::set<std::string> names;
  for (int i = 0; i < 5; ++i) {
    const Conv& c = kConvs[i];
    const std::string prefix = "features." + std::to_string(c.index) + ".";
    const std::vector<std::pair<std::string, std::vector<int64_t>>> wanted = {
        {prefix + "weight", {c.out, c.in, c.kernel, c.kernel}}, {prefix + "bias", {c.out}}};
    for (const auto& [name, shape] : wanted) {
      names.insert(name);
      auto it = weights.find(name);
      if (it == weights.end())
        missing.push_back(name);
      else if (it->second.sizes() != c10::IntArrayRef(shape))
        misshaped.push_back(name + " " + shape_string(it->second.sizes()) + " (AlexNet has " + shape_string(shape) +
                            ")");
    }
  }
  for (const auto& [name, tensor] : weights) {
    // The classifier is AlexNet's ImageNet head, which side-tuning does not use.
    if (!names.count(name) && name.rfind("classifier.", 0) != 0) unexpected.push_back(name);
  }
  report.throw_if_any(kErrWeights, path + ": the side-network weights are not torchvision's AlexNet");
  at::NoGradGuard no_grad;
  for (int i = 0; i < 5; ++i) {
    const std::string prefix = "features." + std::to_string(kConvs[i].index) + ".";
    conv_weight_[i].copy_(weights.at(prefix + "weight"));
    conv_bias_[i].copy_(weights.at(prefix + "bias"));
  }
}

at::Tensor SideNetwork::forward(const at::Tensor& images) const {
  at::Tensor x = images;
  for (int i = 0; i < 5; ++i) {
    const Conv& c = kConvs[i];
    x = at::relu(at::conv2d(x, conv_weight_[i], conv_bias_[i], {c.stride, c.stride}, {c.padding, c.padding}));
    // Max-pools after the first, second and last convolution.
    if (i == 0 || i == 1 || i == 4) x = at::max_pool2d(x, {3, 3}, {2, 2});
  }
  x = at::adaptive_avg_pool2d(x, {6, 6}).flatten(1);  // (B, 9216)
  return at::matmul(x, projection_.t());              // (B, D)
}

at::Tensor SideNetwork::mix(const at::Tensor& vit_features, const at::Tensor& side_features) const {
  const at::Tensor a = at::sigmoid(alpha_);
  return a * vit_features + (1 - a) * side_features;
}

}  // namespace vpt
