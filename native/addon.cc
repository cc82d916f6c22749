// addon.cc — module initialisation only.
#include <napi.h>

#include "model_wrap.h"
#include "runtime_info.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", vpt::ModelWrap::Define(env));
  exports.Set("runtimeInfo", Napi::Function::New<vpt::RuntimeInfo>(env, "runtimeInfo"));
  return exports;
}

}  // namespace

NODE_API_MODULE(vpt_native, Init)
