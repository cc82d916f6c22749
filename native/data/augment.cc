// augment.cc — see augment.h.
#include "data/augment.h"

#include <ATen/core/grad_mode.h>

#include "model/named_tensor.h"
#include "runtime/errors.h"

namespace vpt {

void check_crop_windows(const at::Tensor& pixels, const at::Tensor& crops, const at::Tensor& flips, int64_t crop_size) {
  if (pixels.dim() != 4 || pixels.size(3) != 3 || pixels.scalar_type() != at::kByte || pixels.size(0) < 1) {
    throw Error(kErrShape, "a uint8 image batch needs shape [n, height, width, 3] with n >= 1, got " +
                               shape_string(pixels.sizes()));
  }
  const int64_t B = pixels.size(0), H = pixels.size(1), W = pixels.size(2);
  if (crops.sizes() != c10::IntArrayRef({B, 2}) || crops.scalar_type() != at::kInt) {
    throw Error(kErrShape, "crops must be int32 [" + std::to_string(B) + ", 2], got " + shape_string(crops.sizes()));
  }
  if (flips.sizes() != c10::IntArrayRef({B}) || flips.scalar_type() != at::kByte) {
    throw Error(kErrShape, "flips must be uint8 [" + std::to_string(B) + "], got " + shape_string(flips.sizes()));
  }
  if (crop_size < 1 || crop_size > H || crop_size > W) {
    throw Error(kErrShape, "crop size " + std::to_string(crop_size) + " does not fit images of " + std::to_string(H) +
                               "x" + std::to_string(W));
  }
  const auto c = crops.accessor<int32_t, 2>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t top = c[b][0], left = c[b][1];
    if (top < 0 || left < 0 || top + crop_size > H || left + crop_size > W) {
      throw Error(kErrShape, "image " + std::to_string(b) + ": crop at (top " + std::to_string(top) + ", left " +
                                 std::to_string(left) + ") of size " + std::to_string(crop_size) + " leaves the " +
                                 std::to_string(H) + "x" + std::to_string(W) + " image");
    }
  }
}

at::Tensor crop_flip_normalize(const at::Tensor& pixels, const at::Tensor& crops, const at::Tensor& flips,
                               int64_t crop_size, const Normalization& norm, const at::Device& device) {
  check_crop_windows(pixels, crops, flips, crop_size);
  at::NoGradGuard no_grad;
  const int64_t B = pixels.size(0), S = crop_size;
  const auto index = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor images = pixels.to(device);                                                    // (B, H, W, 3) uint8
  const at::Tensor window = crops.to(device, at::kLong, /*non_blocking=*/true);                   // (B, 2)
  const at::Tensor offsets = at::arange(S, index);                                                // (S,)
  const at::Tensor flip = flips.to(device, at::kByte, /*non_blocking=*/true).ne(0).unsqueeze(1);  // (B, 1)
  const at::Tensor rows = window.select(1, 0).unsqueeze(1) + offsets;                             // (B, S)
  const at::Tensor cols = window.select(1, 1).unsqueeze(1) + at::where(flip, offsets.flip(0), offsets);  // (B, S)
  const at::Tensor batch = at::arange(B, index).view({B, 1, 1});
  const at::Tensor crop = images.index({batch, rows.unsqueeze(2), cols.unsqueeze(1)});  // (B, S, S, 3)

  const auto channel = at::TensorOptions().dtype(at::kFloat);
  const at::Tensor mean = at::tensor({norm.mean[0], norm.mean[1], norm.mean[2]}, channel)
                              .to(device, at::kFloat, /*non_blocking=*/true)
                              .view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({norm.std[0], norm.std[1], norm.std[2]}, channel)
                             .to(device, at::kFloat, /*non_blocking=*/true)
                             .view({1, 3, 1, 1});
  return crop.permute({0, 3, 1, 2}).to(at::kFloat).div(255).sub(mean).div(std).contiguous();  // (B, 3, S, S)
}

}  // namespace vpt
