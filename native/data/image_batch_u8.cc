// image_batch_u8.cc — see image_batch_u8.h.
#include "data/image_batch_u8.h"

#include <algorithm>

#include "model/named_tensor.h"
#include "runtime/errors.h"

namespace vpt {

at::Tensor ImageBatchU8::on(const at::Device& device) const {
  await_staged(staged);  // nothing to wait for unless uploaded on CUDA
  return crop_flip_normalize(pixels, crops, flips, crop_size, norm, device);
}

ImageBatchU8 image_batch_u8_of(const HostImageBatch& host) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(kErrArgument, message);
  };
  require(host.shape.size() == 4, "shape must be [n, height, width, 3]");
  // A product past int64 would wrap to a length that looks right and index outside the array;
  // with a 0 among huge dimensions, the strides would overflow.
  int64_t numel = 1, strided = 1;
  for (int64_t d : host.shape) {
    require(d >= 0, "shape has a negative dimension");
    require(!__builtin_mul_overflow(numel, d, &numel) &&
                !__builtin_mul_overflow(strided, std::max<int64_t>(d, 1), &strided),
            "shape " + shape_string(host.shape) + " has too many elements");
  }
  require(static_cast<uint64_t>(numel) == host.pixel_count, "pixels hold " + std::to_string(host.pixel_count) +
                                                                " bytes but shape " + shape_string(host.shape) +
                                                                " needs " + std::to_string(numel));
  require(host.crop_count % 2 == 0, "crops must hold (top, left) pairs");
  ImageBatchU8 b;
  b.pixels = at::from_blob(host.pixels, host.shape, at::kByte);
  b.crops =
      at::from_blob(const_cast<int32_t*>(host.crops), {static_cast<int64_t>(host.crop_count / 2), 2}, at::kInt).clone();
  b.flips = at::from_blob(const_cast<uint8_t*>(host.flips), {static_cast<int64_t>(host.flip_count)}, at::kByte).clone();
  b.crop_size = host.crop_size;
  b.norm = host.norm;
  check_crop_windows(b.pixels, b.crops, b.flips, b.crop_size);
  return b;
}

}  // namespace vpt
