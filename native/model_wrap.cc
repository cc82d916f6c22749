// model_wrap.cc — see model_wrap.h.
#include "model_wrap.h"

#include "promise_worker.h"

namespace vpt {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw Error(kErrArgument, what);
}

int64_t int_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().Int64Value();
}

double number_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().DoubleValue();
}

bool bool_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsBoolean(), std::string("expected a boolean for '") + key + "'");
  return v.As<Napi::Boolean>().Value();
}

std::string string_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsString(), std::string("expected a string for '") + key + "'");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<int64_t> shape_of(const Napi::Value& v, const char* what) {
  require(v.IsArray(), std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    require(d.IsNumber(), std::string(what) + " must be an array of integers");
    const int64_t n = d.As<Napi::Number>().Int64Value();
    require(n >= 0, std::string(what) + " has a negative dimension");
    shape.push_back(n);
  }
  return shape;
}

ModelConfig parse_config(const Napi::Object& o) {
  ModelConfig c;
  Napi::Object v = o.Get("vit").As<Napi::Object>();
  c.vit.img_size = int_field(v, "imgSize");
  c.vit.patch_size = int_field(v, "patchSize");
  c.vit.in_chans = int_field(v, "inChans");
  c.vit.embed_dim = int_field(v, "embedDim");
  c.vit.depth = int_field(v, "depth");
  c.vit.num_heads = int_field(v, "numHeads");
  c.vit.mlp_ratio = number_field(v, "mlpRatio");
  c.vit.qkv_bias = bool_field(v, "qkvBias");
  c.vit.class_token = bool_field(v, "classToken");
  c.vit.reg_tokens = int_field(v, "regTokens");
  c.vit.no_embed_class = bool_field(v, "noEmbedClass");
  c.vit.layer_scale = bool_field(v, "layerScale");
  c.vit.global_pool = string_field(v, "globalPool");
  c.vit.fc_norm = bool_field(v, "fcNorm");
  c.vit.norm_eps = number_field(v, "normEps");
  Napi::Value p = o.Get("prompt");
  if (p.IsObject()) {
    Napi::Object po = p.As<Napi::Object>();
    c.prompt.tokens = int_field(po, "tokens");
    c.prompt.deep = bool_field(po, "deep");
    c.prompt.dropout = number_field(po, "dropout");
    c.prompt.project = int_field(po, "project");
  }
  c.num_classes = int_field(o, "numClasses");
  c.head_hidden_layers = int_field(o, "headHiddenLayers");
  const std::string transfer = string_field(o, "transfer");
  c.transfer = transfer == "linear" ? Transfer::Linear : transfer == "full" ? Transfer::Full : Transfer::Prompt;
  c.device = string_field(o, "device");
  c.seed = static_cast<uint64_t>(int_field(o, "seed"));
  return c;
}

// A view of a JS Float32Array; valid while the array is referenced by the worker.
struct FloatView {
  const float* data;
  size_t length;
};

FloatView float_view(const Napi::Value& v, const char* what) {
  require(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
          std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return {a.Data(), a.ElementLength()};
}

Napi::Float32Array to_float32_array(Napi::Env env, const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(c.numel()));
  std::memcpy(out.Data(), c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
  return out;
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {
                         InstanceMethod<&ModelWrap::LoadBackbone>("loadBackbone"),
                         InstanceMethod<&ModelWrap::Forward>("forward"),
                         InstanceMethod<&ModelWrap::Features>("features"),
                         InstanceMethod<&ModelWrap::ExportTrainable>("exportTrainable"),
                         InstanceMethod<&ModelWrap::ImportTrainable>("importTrainable"),
                         InstanceMethod<&ModelWrap::Info>("info"),
                         InstanceMethod<&ModelWrap::Dispose>("dispose"),
                     });
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "NativeModel(config) needs a config object");
    model_ = std::make_shared<PromptedVit>(parse_config(info[0].As<Napi::Object>()));
    return env.Undefined();
  });
}

std::shared_ptr<PromptedVit> ModelWrap::model(Napi::Env env) const {
  if (!model_) {
    throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrDisposed, "the model was disposed"}));
  }
  return model_;
}

Napi::Value ModelWrap::LoadBackbone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsString() && info[1].IsArray(),
            "loadBackbone(path, entries) needs a path and an array of entries");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    std::vector<TensorEntry> entries;
    Napi::Array list = info[1].As<Napi::Array>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object e = list.Get(i).As<Napi::Object>();
      entries.push_back({string_field(e, "name"), string_field(e, "dtype"), shape_of(e.Get("shape"), "shape"),
                         static_cast<uint64_t>(number_field(e, "offset")),
                         static_cast<uint64_t>(number_field(e, "nbytes"))});
    }
    return PromiseWorker::Run(env, {Value()}, [m, path, entries]() {
      TensorMap weights = read_tensor_entries(path, entries);
      std::lock_guard<std::mutex> lock(m->mutex());
      m->load_backbone(weights);
    });
  });
}

Napi::Value ModelWrap::RunImages(const Napi::CallbackInfo& info, bool logits) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2, "expected (images: Float32Array, shape: number[])");
    FloatView images = float_view(info[0], "images");
    std::vector<int64_t> shape = shape_of(info[1], "shape");
    require(static_cast<size_t>(numel_of(shape)) == images.length,
            "images hold " + std::to_string(images.length) + " floats but shape " + shape_string(shape) +
                " needs " + std::to_string(numel_of(shape)));
    auto result = std::make_shared<at::Tensor>();
    return PromiseWorker::Run(
        env, {Value(), info[0]},
        [m, images, shape, logits, result]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          c10::InferenceMode inference;
          at::Tensor x = at::from_blob(const_cast<float*>(images.data), shape, at::kFloat);
          *result = (logits ? m->logits(x, false) : m->features(x, false)).to(at::kCPU).contiguous();
        },
        [result](Napi::Env env) -> Napi::Value { return to_float32_array(env, *result); });
  });
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) { return RunImages(info, true); }
Napi::Value ModelWrap::Features(const Napi::CallbackInfo& info) { return RunImages(info, false); }

Napi::Value ModelWrap::ExportTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto result = std::make_shared<TensorMap>();
  return PromiseWorker::Run(
      env, {Value()},
      [m, result]() {
        std::lock_guard<std::mutex> lock(m->mutex());
        *result = m->export_trainable();
      },
      [result](Napi::Env env) -> Napi::Value {
        Napi::Array out = Napi::Array::New(env);
        for (const auto& [name, tensor] : *result) {
          Napi::Object o = Napi::Object::New(env);
          o.Set("name", name);
          Napi::Array shape = Napi::Array::New(env);
          for (int64_t d : tensor.sizes()) shape.Set(shape.Length(), static_cast<double>(d));
          o.Set("shape", shape);
          o.Set("data", to_float32_array(env, tensor));
          out.Set(out.Length(), o);
        }
        return out;
      });
}

Napi::Value ModelWrap::ImportTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsArray(), "importTrainable(tensors) needs an array");
    Napi::Array list = info[0].As<Napi::Array>();
    // Copied on the JS thread: trainable tensors are small next to the backbone.
    auto tensors = std::make_shared<TensorMap>();
    for (uint32_t i = 0; i < list.Length(); ++i) {
      Napi::Object o = list.Get(i).As<Napi::Object>();
      std::vector<int64_t> shape = shape_of(o.Get("shape"), "shape");
      FloatView data = float_view(o.Get("data"), "data");
      const std::string name = string_field(o, "name");
      require(static_cast<size_t>(numel_of(shape)) == data.length,
              "tensor '" + name + "' holds " + std::to_string(data.length) + " floats but its shape " +
                  shape_string(shape) + " needs " + std::to_string(numel_of(shape)));
      (*tensors)[name] = at::from_blob(const_cast<float*>(data.data), shape, at::kFloat).clone();
    }
    return PromiseWorker::Run(env, {Value()}, [m, tensors]() {
      std::lock_guard<std::mutex> lock(m->mutex());
      m->import_trainable(*tensors);
    });
  });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Object out = Napi::Object::New(env);
    out.Set("trainableParams", static_cast<double>(m->trainable_params()));
    out.Set("totalParams", static_cast<double>(m->total_params()));
    out.Set("device", m->device().str());
    return out;
  });
}

void ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  // Work already queued keeps its own reference and finishes; new calls are refused.
  model_.reset();
}

}  // namespace vpt
