// device_rng.cc — see device_rng.h. The CUDA branch lives in device_rng_cuda.cc.
#include "runtime/device_rng.h"

#include <ATen/CPUGeneratorImpl.h>

#include "runtime/errors.h"

namespace vpt {

#ifdef VPT_WITH_CUDA
at::Generator make_cuda_generator(const at::Device& device, uint64_t seed);
#endif

at::Generator make_generator(const at::Device& device, uint64_t seed) {
  if (device.is_cpu()) return at::detail::createCPUGenerator(seed);
#ifdef VPT_WITH_CUDA
  if (device.is_cuda()) return make_cuda_generator(device, seed);
#endif
  throw Error(kErrDevice, "no random generator for device " + device.str());
}

}  // namespace vpt
