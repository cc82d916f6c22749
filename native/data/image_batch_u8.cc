// image_batch_u8.cc — see image_batch_u8.h.
#include "data/image_batch_u8.h"

#include "model/named_tensor.h"

namespace vpt {

at::Tensor ImageBatchU8::on(const at::Device& device) const {
  await_staged(staged);  // nothing to wait for unless uploaded on CUDA
  return crop_flip_normalize(pixels, crops, flips, crop_size, norm, device);
}

}  // namespace vpt
