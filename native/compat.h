// compat.h — the only place that knows about differences between LibTorch versions (>= 2.4).
#pragma once

#include <torch/torch.h>
#include <torch/version.h>

#include <string>

namespace vpt::compat {

// LibTorch's message without the C++ backtrace it appends in debug-ish builds.
inline std::string message_without_backtrace(const c10::Error& e) {
  return e.what_without_backtrace();
}

// Fused attention; the `scale` and `enable_gqa` arguments appeared across 2.1..2.5,
// so we rely only on the positional prefix every supported version has.
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return at::scaled_dot_product_attention(q, k, v);
}

inline std::string torch_version() { return TORCH_VERSION; }

}  // namespace vpt::compat
