// cuda_device_index.h — the CUDA device a Device names, where plain "cuda" means the current
// one. For the *_cuda.cc files (CUDA builds only).
#pragma once

#include <c10/core/Device.h>
#include <c10/cuda/CUDAFunctions.h>

namespace vpt {

inline c10::DeviceIndex cuda_index_of(const c10::Device& device) {
  return device.has_index() ? device.index() : c10::cuda::current_device();
}

}  // namespace vpt
