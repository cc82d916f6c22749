// device_memory_cuda.cc — the CUDA caching allocator's statistics; CUDA builds only.
#include <ATen/ATen.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <torch/cuda.h>

#include "runtime/device_memory.h"
#include "runtime/errors.h"

namespace vpt {

std::optional<DeviceMemory> cuda_memory(int device_index, bool reset_peak) {
  if (!torch::cuda::is_available()) return std::nullopt;
  if (device_index < 0 || device_index >= static_cast<int>(torch::cuda::device_count())) {
    throw Error(kErrDevice, "no CUDA device " + std::to_string(device_index));
  }
  using c10::CachingAllocator::StatType;
  const auto index = static_cast<c10::DeviceIndex>(device_index);
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(index);
  const auto& a = stats.allocated_bytes[static_cast<size_t>(StatType::AGGREGATE)];
  const auto& r = stats.reserved_bytes[static_cast<size_t>(StatType::AGGREGATE)];
  DeviceMemory m{static_cast<uint64_t>(a.current), static_cast<uint64_t>(a.peak), static_cast<uint64_t>(r.current),
                 static_cast<uint64_t>(r.peak)};
  if (reset_peak) c10::cuda::CUDACachingAllocator::resetPeakStats(index);
  return m;
}

}  // namespace vpt
