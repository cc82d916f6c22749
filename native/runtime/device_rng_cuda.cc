// device_rng_cuda.cc — CUDA generators; compiled only against a CUDA LibTorch.
#include <ATen/cuda/CUDAGeneratorImpl.h>

#include "runtime/device_rng.h"

namespace vpt {

at::Generator make_cuda_generator(const at::Device& device, uint64_t seed) {
  const c10::DeviceIndex index = device.has_index() ? device.index() : c10::DeviceIndex(0);
  at::Generator gen = at::make_generator<at::CUDAGeneratorImpl>(index);
  gen.set_current_seed(seed);
  return gen;
}

}  // namespace vpt
