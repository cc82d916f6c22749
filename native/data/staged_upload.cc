// staged_upload.cc — see staged_upload.h. The CUDA copy is in staged_upload_cuda.cc.
#include "data/staged_upload.h"

namespace vpt {

#ifdef VPT_WITH_CUDA
StagedPixels stage_pixels_cuda(const at::Tensor& host, const at::Device& device);
void await_staged_cuda(const StagedPixels& staged);
#endif

StagedPixels stage_pixels(const at::Tensor& host, const at::Device& device) {
#ifdef VPT_WITH_CUDA
  if (device.is_cuda()) return stage_pixels_cuda(host, device);
#endif
  return {host.to(device), nullptr};
}

void await_staged(const StagedPixels& staged) {
#ifdef VPT_WITH_CUDA
  if (staged.ready) await_staged_cuda(staged);
#else
  (void)staged;
#endif
}

}  // namespace vpt
