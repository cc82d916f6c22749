// gpu_info_cuda.cc — GPU enumeration; compiled only against a CUDA LibTorch.
#include <ATen/ATen.h>
#include <ATen/cuda/CUDAContext.h>
#include <cuda_runtime_api.h>
#include <torch/cuda.h>

#include "runtime/runtime_info.h"

namespace vpt {

std::vector<GpuInfo> list_gpus() {
  std::vector<GpuInfo> out;
  if (!torch::cuda::is_available()) return out;
  const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
  for (int64_t i = 0; i < count; ++i) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    out.push_back({i, p->name, static_cast<uint64_t>(p->totalGlobalMem), p->major, p->minor});
  }
  return out;
}

std::string cuda_runtime_version() {
  int v = 0;
  if (cudaRuntimeGetVersion(&v) != cudaSuccess) return "";
  return std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
}

}  // namespace vpt
