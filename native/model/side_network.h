// side_network.h — the side-tuning baseline's side network (KMnP/vpt MODEL.TRANSFER_TYPE "side",
// its ViT.setup_side / forward): torchvision AlexNet's `features` and `avgpool` on the same
// normalised images the frozen ViT sees, flattened to 256 x 6 x 6 = 9216, then a bias-free
// projection to the ViT's width, mixed with the ViT's features by a learnable scalar:
//   f = sigmoid(alpha) * vit(x) + (1 - sigmoid(alpha)) * side_projection(avgpool(features(x)))
// AlexNet's features: conv 11x11/4 pad 2 (64), ReLU, max-pool 3/2, conv 5x5 pad 2 (192), ReLU,
// max-pool 3/2, conv 3x3 pad 1 (384), ReLU, conv 3x3 pad 1 (256), ReLU, conv 3x3 pad 1 (256),
// ReLU, max-pool 3/2; avgpool is adaptive to 6 x 6. Its pools need images of at least 63 px.
// Names (as torchvision's state dict, under `side.`): side.features.{0,3,6,8,10}.{weight,bias},
// side_projection.weight (D, 9216), side_alpha (a 0-dimensional scalar).
#pragma once

#include <ATen/ATen.h>

#include "model/named_tensor.h"
#include "weights/tensor_file.h"

namespace vpt {

class SideNetwork {
 public:
  // The smallest image side AlexNet's three max-pools leave a pixel of.
  static constexpr int64_t kMinImageSize = 63;

  // `embed_dim` 0: no side network (every other transfer mode).
  explicit SideNetwork(int64_t embed_dim);
  bool enabled() const { return embed_dim_ > 0; }

  // Every tensor, all trained: the AlexNet convolutions, the projection, alpha.
  NamedTensors named_tensors();
  // The projection as nn.Linear's default (U(+-1/sqrt(9216))) from `generator`, alpha 0.
  void initialize(at::Generator& generator);
  // Takes the AlexNet convolutions out of torchvision's state dict `weights` (read from `path`,
  // named in errors): a missing or mis-shaped `features.*` tensor is refused (VPT_WEIGHTS);
  // the classifier (`classifier.*`) is ignored. Keeps device, dtype and requires_grad.
  void load_alexnet(const TensorMap& weights, const std::string& path);
  // (B, 3, S, S) normalised images -> the side features before mixing: (B, D).
  at::Tensor forward(const at::Tensor& images) const;
  // sigmoid(alpha) * vit_features + (1 - sigmoid(alpha)) * side_features.
  at::Tensor mix(const at::Tensor& vit_features, const at::Tensor& side_features) const;

 private:
  int64_t embed_dim_;
  at::Tensor conv_weight_[5], conv_bias_[5];
  at::Tensor projection_, alpha_;
};

}  // namespace vpt
