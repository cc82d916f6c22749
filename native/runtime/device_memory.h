// device_memory.h — the CUDA caching allocator's counters for one GPU, so benchmarks and users
// can read vpt-native's own peak device memory (PyTorch's torch.cuda.max_memory_allocated).
#pragma once

#include <cstdint>
#include <optional>

namespace vpt {

struct DeviceMemory {
  uint64_t allocated = 0;       // bytes in live tensors now
  uint64_t peak_allocated = 0;  // since the process started or the last reset
  uint64_t reserved = 0;        // bytes the allocator holds from the driver
  uint64_t peak_reserved = 0;
};

// nullopt on CPU builds or when CUDA is not available. `reset_peak` starts a new peak window.
std::optional<DeviceMemory> cuda_memory(int device_index, bool reset_peak);

}  // namespace vpt
