// compat.h — the only place that knows about differences between LibTorch versions (>= 2.4).
#pragma once

#include <ATen/ATen.h>
#include <ATen/autocast_mode.h>
#include <torch/version.h>

#include <string>

namespace vpt::compat {

// LibTorch's message without the C++ backtrace it appends in debug-ish builds.
inline std::string message_without_backtrace(const c10::Error& e) { return e.what_without_backtrace(); }

// Fused attention; the `scale` and `enable_gqa` arguments appeared across 2.1..2.5,
// so we rely only on the positional prefix every supported version has.
inline at::Tensor sdpa(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v) {
  return at::scaled_dot_product_attention(q, k, v);
}

inline std::string torch_version() { return TORCH_VERSION; }

// bfloat16 autocast for one device type, scoped like Python's `torch.autocast`: the cast
// cache is cleared when the outermost region ends.
class AutocastGuard {
 public:
  AutocastGuard(c10::DeviceType device, bool enabled) : device_(device), enabled_(enabled) {
    if (!enabled_) return;
    prev_enabled_ = at::autocast::is_autocast_enabled(device_);
    prev_dtype_ = at::autocast::get_autocast_dtype(device_);
    at::autocast::set_autocast_enabled(device_, true);
    at::autocast::set_autocast_dtype(device_, at::kBFloat16);
    at::autocast::increment_nesting();
  }
  ~AutocastGuard() {
    if (!enabled_) return;
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    at::autocast::set_autocast_enabled(device_, prev_enabled_);
    at::autocast::set_autocast_dtype(device_, prev_dtype_);
  }
  AutocastGuard(const AutocastGuard&) = delete;
  AutocastGuard& operator=(const AutocastGuard&) = delete;

 private:
  c10::DeviceType device_;
  bool enabled_;
  bool prev_enabled_ = false;
  at::ScalarType prev_dtype_ = at::kBFloat16;
};

}  // namespace vpt::compat
