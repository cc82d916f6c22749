// device_memory.cc — see device_memory.h. The CUDA counters are in device_memory_cuda.cc.
#include "device_memory.h"

#include "js_args.h"
#include "promise_worker.h"

namespace vpt {

#ifndef VPT_WITH_CUDA
std::optional<DeviceMemory> cuda_memory(int, bool) { return std::nullopt; }
#endif

Napi::Value DeviceMemoryJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsNumber() && info[1].IsBoolean(),
            "deviceMemory(index, resetPeak) needs a number and a boolean");
    const auto m = cuda_memory(info[0].As<Napi::Number>().Int32Value(), info[1].As<Napi::Boolean>().Value());
    if (!m) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("allocated", static_cast<double>(m->allocated));
    o.Set("peakAllocated", static_cast<double>(m->peak_allocated));
    o.Set("reserved", static_cast<double>(m->reserved));
    o.Set("peakReserved", static_cast<double>(m->peak_reserved));
    return o;
  });
}

}  // namespace vpt
