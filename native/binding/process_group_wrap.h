// process_group_wrap.h — `NativeProcessGroup`, the JS face of DistributedGroup. Options arrive
// validated from TypeScript (lib/distributed/); joining and every collective run off the JS
// thread and settle a Promise.
#pragma once

#include <napi.h>

#include <memory>

#include "distributed/process_group.h"

namespace vpt {

class ProcessGroupWrap : public Napi::ObjectWrap<ProcessGroupWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ProcessGroupWrap(const Napi::CallbackInfo& info);
  // The joined group; throws VPT_DISPOSED before join() settles or after dispose().
  std::shared_ptr<DistributedGroup> group(Napi::Env env) const;
  // The wrapper behind a JS NativeProcessGroup, or nullptr for any other value.
  static ProcessGroupWrap* From(const Napi::Value& value);

 private:
  // join({rank, worldSize, masterAddr, masterPort, backend, timeoutMs, glooInterface,
  //       cudaDevice}): Promise<void> — blocks (off-thread) until every rank has joined
  Napi::Value Join(const Napi::CallbackInfo& info);
  // allReduceSum(values: Float64Array): Promise<Float64Array> — elementwise sum over ranks
  Napi::Value AllReduceSum(const Napi::CallbackInfo& info);
  // barrier(): Promise<void>
  Napi::Value Barrier(const Napi::CallbackInfo& info);
  // backends(): {gloo: boolean, nccl: boolean} — what this build contains
  static Napi::Value Backends(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  std::shared_ptr<DistributedGroup> group_;
};

}  // namespace vpt
