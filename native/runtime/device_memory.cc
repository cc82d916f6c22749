// device_memory.cc — see device_memory.h. The CUDA counters are in device_memory_cuda.cc.
#include "runtime/device_memory.h"

namespace vpt {

#ifndef VPT_WITH_CUDA
std::optional<DeviceMemory> cuda_memory(int, bool) { return std::nullopt; }
#endif

}  // namespace vpt
