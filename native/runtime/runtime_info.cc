// runtime_info.cc — see runtime_info.h.
#include "runtime/runtime_info.h"

#include <ATen/ATen.h>
#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <regex>

#include "runtime/compat.h"

namespace vpt {

#ifndef VPT_WITH_CUDA
std::vector<GpuInfo> list_gpus() { return {}; }
std::string cuda_runtime_version() { return ""; }
#endif

namespace {

// A "KEY=value" entry of at::show_config(), or "" when absent.
std::string config_value(const std::string& config, const std::string& key) {
  std::smatch m;
  if (std::regex_search(config, m, std::regex(key + "=([^,\\n]*)"))) return m[1].str();
  return "";
}

std::string capability(const std::string& config) {
  std::smatch m;
  if (std::regex_search(config, m, std::regex("CPU capability usage: ([^\\n]*)"))) return m[1].str();
  return "";
}

}  // namespace

RuntimeInfo runtime_info() {
  RuntimeInfo r;
  r.build_config = at::show_config();
  r.torch_version = compat::torch_version();
#ifdef VPT_WITH_CUDA
  r.cuda_build = true;
#endif
  r.cuda_available = torch::cuda::is_available();
#if VPT_WITH_CUDA_KERNELS
  r.cuda_fused_kernels = true;
#endif
  r.cuda_runtime = cuda_runtime_version();
  r.gpus = list_gpus();
  r.cpu_threads = at::get_num_threads();
  r.interop_threads = at::get_num_interop_threads();
  r.blas = config_value(r.build_config, "BLAS_INFO");
  r.lapack = config_value(r.build_config, "LAPACK_INFO");
  r.mkl = at::hasMKL();
  r.onednn = at::hasMKLDNN();
  r.openmp = at::hasOpenMP();
  r.cpu_capability = capability(r.build_config);
  r.built_against_torch_root = VPT_TORCH_ROOT;
  r.built_against_torch_version = VPT_TORCH_VERSION;
  return r;
}

}  // namespace vpt
