// addon.cc — module initialisation only.
#include <napi.h>

#include "add_layer_norm_check.h"
#include "image_decode_wrap.h"
#include "device_memory.h"
#include "model_wrap.h"
#include "process_group_wrap.h"
#include "staged_batch_wrap.h"
#include "runtime_info.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", vpt::ModelWrap::Define(env));
  exports.Set("NativeProcessGroup", vpt::ProcessGroupWrap::Define(env));
  exports.Set("NativeStagedBatch", vpt::StagedBatchWrap::Define(env));
  exports.Set("deviceMemory", Napi::Function::New<vpt::DeviceMemoryJs>(env, "deviceMemory"));
  exports.Set("runtimeInfo", Napi::Function::New<vpt::RuntimeInfo>(env, "runtimeInfo"));
  exports.Set("checkAddLayerNorm", Napi::Function::New<vpt::CheckAddLayerNorm>(env, "checkAddLayerNorm"));
  vpt::RegisterImageDecode(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(vpt_native, Init)
