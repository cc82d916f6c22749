// device_memory_wrap.cc — see device_memory_wrap.h.
#include "binding/device_memory_wrap.h"

#include "binding/js_args.h"
#include "binding/promise_worker.h"
#include "runtime/device_memory.h"

namespace vpt {

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
