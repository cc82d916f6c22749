// staged_batch_wrap.h — `NativeStagedBatch`: a uint8 batch whose pixels a model uploaded ahead
// of the step that uses them (model.uploadU8; see staged_upload.h). Train and evaluate calls
// take it wherever they take a uint8 batch. It keeps the JS pixels alive (on the CPU they are
// used in place) and holds the device copy until it is garbage-collected or disposed.
#pragma once

#include <napi.h>

#include <optional>

#include "data/image_batch_u8.h"

namespace vpt {

class StagedBatchWrap : public Napi::ObjectWrap<StagedBatchWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit StagedBatchWrap(const Napi::CallbackInfo& info);
  // The wrapper behind a JS NativeStagedBatch, or nullptr for any other value.
  static StagedBatchWrap* From(const Napi::Value& value);

  // The uploaded batch; throws VPT_ARGUMENT while no upload has settled into it, VPT_DISPOSED
  // after dispose().
  const ImageBatchU8& batch(Napi::Env env) const;
  // An upload is filling it: refused as a target of another upload until it settles.
  void begin_upload(Napi::Env env);
  // The upload settled (`batch` is unset when it failed). Runs on the JS thread.
  void end_upload(std::optional<ImageBatchU8> batch, Napi::Value pixels);

 private:
  // dispose(): void — frees the device copy now
  void Dispose(const Napi::CallbackInfo& info);

  std::optional<ImageBatchU8> batch_;
  Napi::ObjectReference pixels_;
  bool uploading_ = false;
  bool disposed_ = false;
};

}  // namespace vpt
