// named_tensor.h — a tensor slot with its checkpoint name and expected shape, so loading,
// saving and device moves walk one registry instead of hand-written lists.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace vpt {

struct NamedTensor {
  std::string name;
  std::vector<int64_t> shape;
  at::Tensor* slot;
};

using NamedTensors = std::vector<NamedTensor>;

inline std::string shape_string(c10::IntArrayRef shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

inline int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

}  // namespace vpt
