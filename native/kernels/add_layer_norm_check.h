// add_layer_norm_check.h — checks add_layer_norm's fused kernels against the same computation
// in ATen ops (add_layer_norm_reference) on a device, over the cases the kernels distinguish:
// widths that do and do not fill a warp's registers, r absent / fp32 / bf16, prompt rows
// absent / shared over the batch / per sample, fp32 / bf16 output, either output gradient
// missing, a non-contiguous x. The tests run it on the CPU, scripts/gpu-check.mjs on a GPU (through
// binding/add_layer_norm_check_wrap.h).
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace vpt {

struct AddLayerNormCheck {
  std::string name;
  bool fused = false;  // the kernels ran (not the reference, which would compare with itself)
  double tolerance = 0;
  // Largest |fused - reference| (relative to max(1, |reference|) for bf16 outputs) per tensor.
  double sum = 0, normed = 0, grad_x = 0, grad_r = 0, grad_rows = 0, grad_weight = 0, grad_bias = 0;
  bool ok() const;
};

// Empty when the device has no fused kernels (a CUDA build without them): nothing to compare.
std::vector<AddLayerNormCheck> check_add_layer_norm(const at::Device& device);

}  // namespace vpt
