// image_batch_u8.h — a loader's uint8 batch as native code receives it: pixels, per-image crop
// windows and flips, the crop size and the normalization (see augment.h). Read on the JS
// thread (binding/tensor_helper.h), used off it: the pixels are a view of the JS Uint8Array
// (valid while the worker references it), or a copy already on its way to the device
// (staged_upload.h).
#pragma once

#include <ATen/ATen.h>

#include "data/augment.h"
#include "data/staged_upload.h"

namespace vpt {

struct ImageBatchU8 {
  at::Tensor pixels;  // (B, H, W, 3) uint8: the host view, or staged.pixels
  at::Tensor crops;   // (B, 2) int32
  at::Tensor flips;   // (B,) uint8
  int64_t crop_size = 0;
  Normalization norm{};
  StagedPixels staged;  // set once the pixels were uploaded ahead of the step

  // Cropped, flipped, normalized (B, 3, S, S) float32 on `device`.
  at::Tensor on(const at::Device& device) const;
};

}  // namespace vpt
