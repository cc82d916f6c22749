// runtime_info.cc — see runtime_info.h.
#include "runtime_info.h"

#include <ATen/Context.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <regex>

#include "compat.h"
#include "promise_worker.h"

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

Napi::Value RuntimeInfo(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    const std::string config = at::show_config();
    Napi::Object out = Napi::Object::New(env);
    out.Set("torchVersion", compat::torch_version());
#ifdef VPT_WITH_CUDA
    out.Set("cudaBuild", true);
#else
    out.Set("cudaBuild", false);
#endif
    out.Set("cudaAvailable", torch::cuda::is_available());
#if VPT_WITH_CUDA_KERNELS
    out.Set("cudaFusedKernels", true);
#else
    out.Set("cudaFusedKernels", false);
#endif
    out.Set("cudaRuntime", cuda_runtime_version());
    Napi::Array gpus = Napi::Array::New(env);
    for (const auto& g : list_gpus()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("index", static_cast<double>(g.index));
      o.Set("name", g.name);
      o.Set("totalMemory", static_cast<double>(g.total_memory));
      o.Set("computeCapability", std::to_string(g.major) + "." + std::to_string(g.minor));
      gpus.Set(gpus.Length(), o);
    }
    out.Set("gpus", gpus);
    out.Set("cpuThreads", at::get_num_threads());
    out.Set("interopThreads", at::get_num_interop_threads());
    out.Set("blas", config_value(config, "BLAS_INFO"));
    out.Set("lapack", config_value(config, "LAPACK_INFO"));
    out.Set("mkl", at::hasMKL());
    out.Set("onednn", at::hasMKLDNN());
    out.Set("openmp", at::hasOpenMP());
    out.Set("cpuCapability", capability(config));
    out.Set("buildConfig", config);
    out.Set("builtAgainstTorchRoot", VPT_TORCH_ROOT);
    out.Set("builtAgainstTorchVersion", VPT_TORCH_VERSION);
    return out;
  });
}

}  // namespace vpt
