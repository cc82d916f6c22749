// multi_task_wrap.cc — see multi_task_wrap.h.
#include "binding/multi_task_wrap.h"

#include "binding/fingerprint_helper.h"
#include "binding/js_args.h"
#include "binding/options_helper.h"
#include "binding/tensor_helper.h"

namespace vpt {

namespace {

// An Int32Array of request indices, copied.
std::vector<int64_t> indices_of(const Napi::Value& v, const char* what) {
  require(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
          std::string(what) + " must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return std::vector<int64_t>(a.Data(), a.Data() + a.ElementLength());
}

std::vector<TaskRequest> requests_of(const Napi::Value& image_of, const Napi::Value& task_of) {
  const std::vector<int64_t> images = indices_of(image_of, "imageOf");
  const std::vector<int64_t> tasks = indices_of(task_of, "taskOf");
  require(images.size() == tasks.size() && !images.empty(), "imageOf and taskOf must have the same length >= 1");
  std::vector<TaskRequest> out(images.size());
  for (size_t i = 0; i < images.size(); ++i) out[i] = {images[i], tasks[i]};
  return out;
}

TaskConfig task_config_of(const Napi::Object& o) {
  TaskConfig c;
  Napi::Value p = o.Get("prompt");
  if (p.IsObject()) {
    Napi::Object po = p.As<Napi::Object>();
    c.prompt.tokens = int_field(po, "tokens");
    c.prompt.deep = bool_field(po, "deep");
    c.prompt.project = int_field(po, "project");
  }
  c.num_classes = int_field(o, "numClasses");
  c.head_hidden_layers = int_field(o, "headHiddenLayers");
  return c;
}

}  // namespace

Napi::Function MultiTaskWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeMultiTaskModel",
                     {
                         InstanceMethod<&MultiTaskWrap::LoadBackbone>("loadBackbone"),
                         InstanceMethod<&MultiTaskWrap::AddTask>("addTask"),
                         InstanceMethod<&MultiTaskWrap::Forward>("forward"),
                         InstanceMethod<&MultiTaskWrap::ForwardU8>("forwardU8"),
                         InstanceMethod<&MultiTaskWrap::Info>("info"),
                         InstanceMethod<&MultiTaskWrap::Dispose>("dispose"),
                     });
}

MultiTaskWrap::MultiTaskWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<MultiTaskWrap>(info) {
  Napi::Env env = info.Env();
  guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "NativeMultiTaskModel(config) needs a config object");
    const ModelConfig c = parse_config(info[0].As<Napi::Object>());
    model_ = std::make_shared<MultiTaskVit>(c.vit, c.device);
    return env.Undefined();
  });
}

std::shared_ptr<MultiTaskVit> MultiTaskWrap::model(Napi::Env env) const {
  if (!model_) throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrDisposed, "the model was disposed"}));
  return model_;
}

Napi::Promise MultiTaskWrap::RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive,
                                        PromiseWorker::Work work, PromiseWorker::Resolve resolve) {
  return PromiseWorker::Run(
      env, keep_alive, [thread = thread_, work = std::move(work)]() { thread->run(work); }, std::move(resolve));
}

Napi::Value MultiTaskWrap::LoadBackbone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsString() && info[1].IsArray(),
            "loadBackbone(path, entries) needs a path and an array of entries");
    const std::string path = info[0].As<Napi::String>().Utf8Value();
    std::vector<TensorEntry> entries = tensor_entries_of(info[1].As<Napi::Array>());
    auto result = std::make_shared<BackboneFingerprint>();
    return RunOnModel(
        env, {Value()},
        [m, path, entries, result]() {
          TensorMap weights = read_tensor_entries(path, entries);
          std::lock_guard<std::mutex> lock(m->mutex());
          m->load_backbone(weights);
          *result = m->fingerprint();
        },
        [result](Napi::Env env) -> Napi::Value { return fingerprint_to_js(env, *result); });
  });
}

Napi::Value MultiTaskWrap::AddTask(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsObject(), "addTask(config, tensors) needs a config and an array");
    const TaskConfig config = task_config_of(info[0].As<Napi::Object>());
    auto tensors = tensors_from_js(info[1]);  // copied: a task's tensors are small
    auto index = std::make_shared<int64_t>(-1);
    return RunOnModel(
        env, {Value()},
        [m, config, tensors, index]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          *index = m->add_task(config, *tensors);
        },
        [index](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*index)); });
  });
}

Napi::Value MultiTaskWrap::RunForward(const Napi::CallbackInfo& info, bool u8) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == (u8 ? 3u : 4u), u8 ? "expected (batch, imageOf: Int32Array, taskOf: Int32Array)"
                                                : "expected (images: Float32Array, shape, imageOf, taskOf)");
    ImageInput in;
    const size_t next = read_image_input(info, u8, in);
    const std::vector<TaskRequest> requests = requests_of(info[next], info[next + 1]);
    auto result = std::make_shared<at::Tensor>();
    return RunOnModel(
        env, {Value(), in.memory},
        [m, in, requests, result]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          c10::InferenceMode inference;
          const std::vector<at::Tensor> logits = m->forward(in.tensor(m->device()), requests);
          *result = at::cat(logits).to(at::kCPU).contiguous();
        },
        [result](Napi::Env env) -> Napi::Value { return to_float32_array(env, *result); });
  });
}

Napi::Value MultiTaskWrap::Forward(const Napi::CallbackInfo& info) { return RunForward(info, false); }
Napi::Value MultiTaskWrap::ForwardU8(const Napi::CallbackInfo& info) { return RunForward(info, true); }

Napi::Value MultiTaskWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Object out = Napi::Object::New(env);
    out.Set("device", m->device().str());
    out.Set("backboneBytes", static_cast<double>(m->backbone_bytes()));
    Napi::Array tasks = Napi::Array::New(env);
    for (int64_t t = 0; t < m->num_tasks(); ++t) tasks.Set(tasks.Length(), static_cast<double>(m->task_bytes(t)));
    out.Set("taskBytes", tasks);
    return out;
  });
}

void MultiTaskWrap::Dispose(const Napi::CallbackInfo&) {
  // Work already queued keeps its own reference and finishes; new calls are refused.
  model_.reset();
  thread_.reset();
}

}  // namespace vpt
