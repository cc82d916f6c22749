// runtime_info.h — what LibTorch this addon runs on: versions, CUDA, GPUs, CPU threads, BLAS.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace vpt {

struct GpuInfo {
  int64_t index;
  std::string name;
  uint64_t total_memory;
  int major, minor;  // compute capability
};

// Implemented in gpu_info_cuda.cc for CUDA builds; empty on CPU builds.
std::vector<GpuInfo> list_gpus();
std::string cuda_runtime_version();

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info);

}  // namespace vpt
