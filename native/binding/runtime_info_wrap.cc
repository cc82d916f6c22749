// runtime_info_wrap.cc — see runtime_info_wrap.h.
#include "binding/runtime_info_wrap.h"

#include <string>

#include "binding/promise_worker.h"
#include "runtime/runtime_info.h"

namespace vpt {

Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    const RuntimeInfo r = runtime_info();
    Napi::Object out = Napi::Object::New(env);
    out.Set("torchVersion", r.torch_version);
    out.Set("cudaBuild", r.cuda_build);
    out.Set("cudaAvailable", r.cuda_available);
    out.Set("cudaFusedKernels", r.cuda_fused_kernels);
    out.Set("cudaRuntime", r.cuda_runtime);
    Napi::Array gpus = Napi::Array::New(env);
    for (const auto& g : r.gpus) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("index", static_cast<double>(g.index));
      o.Set("name", g.name);
      o.Set("totalMemory", static_cast<double>(g.total_memory));
      o.Set("computeCapability", std::to_string(g.major) + "." + std::to_string(g.minor));
      gpus.Set(gpus.Length(), o);
    }
    out.Set("gpus", gpus);
    out.Set("cpuThreads", r.cpu_threads);
    out.Set("interopThreads", r.interop_threads);
    out.Set("blas", r.blas);
    out.Set("lapack", r.lapack);
    out.Set("mkl", r.mkl);
    out.Set("onednn", r.onednn);
    out.Set("openmp", r.openmp);
    out.Set("cpuCapability", r.cpu_capability);
    out.Set("buildConfig", r.build_config);
    out.Set("builtAgainstTorchRoot", r.built_against_torch_root);
    out.Set("builtAgainstTorchVersion", r.built_against_torch_version);
    return out;
  });
}

}  // namespace vpt
