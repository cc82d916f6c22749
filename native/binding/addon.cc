// addon.cc — module initialisation only.
#include <napi.h>

#include "binding/add_layer_norm_check_wrap.h"
#include "binding/device_memory_wrap.h"
#include "binding/host_heap_wrap.h"
#include "binding/image_decode_wrap.h"
#include "binding/model_wrap.h"
#include "binding/multi_task_wrap.h"
#include "binding/process_group_wrap.h"
#include "binding/runtime_info_wrap.h"
#include "binding/staged_batch_wrap.h"
#include "binding/swin_model_wrap.h"

namespace {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("NativeModel", vpt::ModelWrap::Define(env));
  exports.Set("NativeProcessGroup", vpt::ProcessGroupWrap::Define(env));
  exports.Set("NativeStagedBatch", vpt::StagedBatchWrap::Define(env));
  exports.Set("deviceMemory", Napi::Function::New<vpt::DeviceMemoryJs>(env, "deviceMemory"));
  exports.Set("runtimeInfo", Napi::Function::New<vpt::RuntimeInfoJs>(env, "runtimeInfo"));
  exports.Set("checkAddLayerNorm", Napi::Function::New<vpt::CheckAddLayerNorm>(env, "checkAddLayerNorm"));
  vpt::RegisterImageDecode(env, exports);
  exports.Set("NativeMultiTaskModel", vpt::MultiTaskWrap::Define(env));
  exports.Set("NativeSwinModel", vpt::SwinModelWrap::Define(env));
  exports.Set("hostHeap", Napi::Function::New<vpt::HostHeapJs>(env, "hostHeap"));
  exports.Set("trimHostHeap", Napi::Function::New<vpt::TrimHostHeapJs>(env, "trimHostHeap"));
  exports.Set("keepHostHeap", Napi::Function::New<vpt::KeepHostHeapJs>(env, "keepHostHeap"));
  return exports;
}

}  // namespace

NODE_API_MODULE(vpt_native, Init)
