// runtime_info_wrap.h — runtimeInfo(): the engine's RuntimeInfo (runtime/runtime_info.h) as a
// plain JS object, described in lib/binding.ts. [sync]
#pragma once

#include <napi.h>

namespace vpt {

Napi::Value RuntimeInfoJs(const Napi::CallbackInfo& info);

}  // namespace vpt
