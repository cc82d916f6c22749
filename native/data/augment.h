// augment.h — VPT's FGVC augmentation on the model's device, from a uint8 batch the host
// decoded and resized: per-image crop (RandomCrop / CenterCrop), horizontal flip, ToTensor,
// Normalize. The host decides every crop and flip (seeded); this file only applies them.
//
//   pixels (B, H, W, 3) uint8, crops (B, 2) int32 [top, left], flips (B,) uint8 0/1
//   x[b, c, i, j] = (pixels[b, top + i, left + (flip ? S-1-j : j), c] / 255 - mean[c]) / std[c]
//   -> x (B, 3, S, S) float32 on `device`
#pragma once

#include <ATen/ATen.h>

#include <array>

namespace vpt {

struct Normalization {
  std::array<float, 3> mean;
  std::array<float, 3> std;
};

// Checks every crop window against the image on the host (an out-of-range index on a GPU
// would abort the CUDA context) and throws VPT_SHAPE naming the image.
void check_crop_windows(const at::Tensor& pixels, const at::Tensor& crops, const at::Tensor& flips, int64_t crop_size);

// Crop, flip, to float, normalize; the arithmetic order is torchvision's (x / 255, then
// (x - mean) / std), so the result equals ToTensor + Normalize of the same crop bit for bit.
at::Tensor crop_flip_normalize(const at::Tensor& pixels, const at::Tensor& crops, const at::Tensor& flips,
                               int64_t crop_size, const Normalization& norm, const at::Device& device);

}  // namespace vpt
