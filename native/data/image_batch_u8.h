// image_batch_u8.h — a loader's uint8 batch as native code receives it: pixels, per-image crop
// windows and flips, the crop size and the normalization (see augment.h). Read on the JS
// thread (binding/tensor_helper.h), used off it: the pixels are a view of the JS Uint8Array
// (valid while the worker references it), or a copy already on its way to the device
// (staged_upload.h).
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

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

// A batch as the caller's arrays hold it (JS typed arrays in binding/tensor_helper.cc; bytes in
// native/fuzz/image_batch_fuzz.cc): nothing is trusted, every length is checked here.
struct HostImageBatch {
  uint8_t* pixels = nullptr;
  size_t pixel_count = 0;
  std::vector<int64_t> shape;  // [n, height, width, 3], as given
  const int32_t* crops = nullptr;
  size_t crop_count = 0;  // int32s: (top, left) pairs
  const uint8_t* flips = nullptr;
  size_t flip_count = 0;
  int64_t crop_size = 0;
  Normalization norm{};
};

// Checks `host` and views it as an ImageBatchU8: the pixels are not copied (valid while
// host.pixels is), crops and flips are. The shape's element count is computed without overflow.
// @throws Error(kErrArgument) for a malformed shape or array length; Error(kErrShape) for a crop
//         window outside its image (augment.h check_crop_windows)
ImageBatchU8 image_batch_u8_of(const HostImageBatch& host);

}  // namespace vpt
