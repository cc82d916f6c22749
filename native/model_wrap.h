// model_wrap.h — `NativeModel`, the JS face of PromptedVit. Options arrive validated from
// TypeScript (lib/model/); this file only copies them into plain structs. Every heavy
// method returns a Promise settled by a PromiseWorker.
#pragma once

#include <napi.h>

#include <memory>

#include "prompted_vit.h"

namespace vpt {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ModelWrap(const Napi::CallbackInfo& info);

 private:
  // loadBackbone(path, entries: {name, dtype, shape, offset, nbytes}[]): Promise<void>
  Napi::Value LoadBackbone(const Napi::CallbackInfo& info);
  // forward(images: Float32Array, shape: number[]): Promise<Float32Array>  (n x C)
  Napi::Value Forward(const Napi::CallbackInfo& info);
  // features(images, shape): Promise<Float32Array>  (n x D)
  Napi::Value Features(const Napi::CallbackInfo& info);
  // exportTrainable(): Promise<{name, shape, data: Float32Array}[]>
  Napi::Value ExportTrainable(const Napi::CallbackInfo& info);
  // importTrainable(tensors: {name, shape, data: Float32Array}[]): Promise<void>
  Napi::Value ImportTrainable(const Napi::CallbackInfo& info);
  // info(): {trainableParams, totalParams, device}
  Napi::Value Info(const Napi::CallbackInfo& info);
  void Dispose(const Napi::CallbackInfo& info);

  Napi::Value RunImages(const Napi::CallbackInfo& info, bool logits);
  std::shared_ptr<PromptedVit> model(Napi::Env env) const;

  std::shared_ptr<PromptedVit> model_;
};

}  // namespace vpt
