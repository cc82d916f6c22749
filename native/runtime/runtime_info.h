// runtime_info.h — what LibTorch this addon runs on: versions, CUDA, GPUs, CPU threads, BLAS.
#pragma once

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

struct RuntimeInfo {
  std::string torch_version;
  bool cuda_build = false;          // compiled against a CUDA LibTorch
  bool cuda_available = false;      // and a GPU is usable now
  bool cuda_fused_kernels = false;  // kernels/add_layer_norm_kernels.cu was compiled in
  std::string cuda_runtime;
  std::vector<GpuInfo> gpus;
  int cpu_threads = 0, interop_threads = 0;
  std::string blas, lapack;
  bool mkl = false, onednn = false, openmp = false;
  std::string cpu_capability;  // e.g. "AVX512"
  std::string build_config;    // at::show_config()
  std::string built_against_torch_root, built_against_torch_version;
};

RuntimeInfo runtime_info();

}  // namespace vpt
