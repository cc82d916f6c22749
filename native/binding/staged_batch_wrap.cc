// staged_batch_wrap.cc — see staged_batch_wrap.h.
#include "binding/staged_batch_wrap.h"

#include "binding/promise_worker.h"

namespace vpt {

namespace {

// Marks NativeStagedBatch objects so a model can tell one from a plain batch object.
constexpr napi_type_tag kStagedBatchTag = {0x7670742d6e617469ULL, 0x7374616765643031ULL};

[[noreturn]] void throw_js(Napi::Env env, const char* code, const std::string& message) {
  throw Napi::Error(env, PromiseWorker::MakeError(env, {code, message}));
}

}  // namespace

Napi::Function StagedBatchWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeStagedBatch", {InstanceMethod<&StagedBatchWrap::Dispose>("dispose")});
}

StagedBatchWrap::StagedBatchWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<StagedBatchWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kStagedBatchTag);
}

StagedBatchWrap* StagedBatchWrap::From(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kStagedBatchTag)) return nullptr;
  return Napi::ObjectWrap<StagedBatchWrap>::Unwrap(value.As<Napi::Object>());
}

const ImageBatchU8& StagedBatchWrap::batch(Napi::Env env) const {
  if (disposed_) throw_js(env, kErrDisposed, "the staged batch was disposed");
  if (!batch_) throw_js(env, kErrArgument, "the staged batch holds no uploaded batch (await uploadU8 first)");
  return *batch_;
}

void StagedBatchWrap::begin_upload(Napi::Env env) {
  if (disposed_) throw_js(env, kErrDisposed, "the staged batch was disposed");
  if (uploading_ || batch_) throw_js(env, kErrArgument, "a staged batch takes one upload");
  uploading_ = true;
}

void StagedBatchWrap::end_upload(std::optional<ImageBatchU8> batch, Napi::Value pixels) {
  uploading_ = false;
  if (disposed_ || !batch) return;
  batch_ = std::move(batch);
  if (pixels.IsObject()) pixels_ = Napi::Persistent(pixels.As<Napi::Object>());
}

void StagedBatchWrap::Dispose(const Napi::CallbackInfo&) {
  // The JS pixels stay referenced: a step already running may still read them (CPU).
  disposed_ = true;
  batch_.reset();
}

}  // namespace vpt
