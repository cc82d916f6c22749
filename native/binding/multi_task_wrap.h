// multi_task_wrap.h — `NativeMultiTaskModel`, the JS face of MultiTaskVit: one frozen backbone,
// many tasks' prompts and heads, mixed-task batches (model/multi_task_forward.h). Options
// arrive validated from TypeScript (lib/serve/); every heavy method returns a Promise settled
// on the model's own thread.
#pragma once

#include <napi.h>

#include <memory>

#include "binding/promise_worker.h"
#include "model/multi_task_forward.h"
#include "runtime/serial_thread.h"

namespace vpt {

class MultiTaskWrap : public Napi::ObjectWrap<MultiTaskWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  // new NativeMultiTaskModel(config): config in NativeModelConfig's form; only `vit` and
  // `device` are read (the backbone runs in float32).
  explicit MultiTaskWrap(const Napi::CallbackInfo& info);

 private:
  // loadBackbone(path, entries): Promise<{shapes, weights, params}> — the backbone's fingerprint
  Napi::Value LoadBackbone(const Napi::CallbackInfo& info);
  // addTask({prompt: {tokens, deep, project} | null, numClasses, headHiddenLayers},
  //         tensors: {name, shape, data}[]): Promise<number> — the task's index
  Napi::Value AddTask(const Napi::CallbackInfo& info);
  // forwardU8(batch, imageOf: Int32Array, taskOf: Int32Array): Promise<Float32Array> — the
  // logits of request r (image imageOf[r], task taskOf[r]) one after another, each task's
  // numClasses long
  Napi::Value ForwardU8(const Napi::CallbackInfo& info);
  // forward(images: Float32Array, shape, imageOf, taskOf): Promise<Float32Array> — as forwardU8
  // on normalized NCHW floats
  Napi::Value Forward(const Napi::CallbackInfo& info);
  // info(): {device, backboneBytes, taskBytes: number[]}
  Napi::Value Info(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  Napi::Value RunForward(const Napi::CallbackInfo& info, bool u8);
  std::shared_ptr<MultiTaskVit> model(Napi::Env env) const;
  Napi::Promise RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive, PromiseWorker::Work work,
                           PromiseWorker::Resolve resolve = nullptr);

  std::shared_ptr<MultiTaskVit> model_;
  // Every call that runs the model runs on this thread (see serial_thread.h).
  std::shared_ptr<SerialThread> thread_ = std::make_shared<SerialThread>();
};

}  // namespace vpt
