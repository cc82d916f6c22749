// swin_model_wrap.cc — see swin_model_wrap.h.
#include "binding/swin_model_wrap.h"

#include <cstring>
#include <optional>

#include "binding/fingerprint_helper.h"
#include "binding/js_args.h"
#include "binding/options_helper.h"
#include "binding/staged_batch_wrap.h"
#include "binding/tensor_helper.h"

namespace vpt {

namespace {

std::vector<int64_t> int_list(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsArray(), std::string("expected an array of numbers for '") + key + "'");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> out;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    require(a.Get(i).IsNumber(), std::string("expected an array of numbers for '") + key + "'");
    out.push_back(a.Get(i).As<Napi::Number>().Int64Value());
  }
  return out;
}

// {swin: {imgSize, patchSize, inChans, embedDim, depths, numHeads, windowSize, mlpRatio},
//  prompt?: {tokens, deep, dropout}, numClasses, headHiddenLayers, transfer, device, seed}
SwinModelConfig parse_swin_config(const Napi::Object& o) {
  SwinModelConfig c;
  require(o.Get("swin").IsObject(), "expected an object for 'swin'");
  Napi::Object s = o.Get("swin").As<Napi::Object>();
  c.swin.img_size = int_field(s, "imgSize");
  c.swin.patch_size = int_field(s, "patchSize");
  c.swin.in_chans = int_field(s, "inChans");
  c.swin.embed_dim = int_field(s, "embedDim");
  c.swin.depths = int_list(s, "depths");
  c.swin.num_heads = int_list(s, "numHeads");
  c.swin.window_size = int_field(s, "windowSize");
  c.swin.mlp_ratio = number_field(s, "mlpRatio");
  Napi::Value p = o.Get("prompt");
  if (p.IsObject()) {
    Napi::Object po = p.As<Napi::Object>();
    c.prompt_tokens = int_field(po, "tokens");
    c.deep = bool_field(po, "deep");
    c.prompt_dropout = number_field(po, "dropout");
  }
  c.num_classes = int_field(o, "numClasses");
  c.head_hidden_layers = int_field(o, "headHiddenLayers");
  const std::string transfer = string_field(o, "transfer");
  require(transfer == "prompt" || transfer == "linear" || transfer == "full",
          "unknown transfer '" + transfer + "' for a Swin model (prompt, linear, full)");
  c.transfer = transfer == "linear" ? Transfer::Linear : transfer == "full" ? Transfer::Full : Transfer::Prompt;
  c.device = string_field(o, "device");
  c.seed = static_cast<uint64_t>(int_field(o, "seed"));
  return c;
}

}  // namespace

Napi::Function SwinModelWrap::Define(Napi::Env env) {
  auto unsupported = [](const char* name, const char* what) {
    return InstanceMethod(name, &SwinModelWrap::Unsupported, napi_default, const_cast<char*>(what));
  };
  return DefineClass(env, "NativeSwinModel",
                     {
                         InstanceMethod<&SwinModelWrap::LoadBackbone>("loadBackbone"),
                         InstanceMethod<&SwinModelWrap::Forward>("forward"),
                         InstanceMethod<&SwinModelWrap::Features>("features"),
                         InstanceMethod<&SwinModelWrap::ForwardU8>("forwardU8"),
                         InstanceMethod<&SwinModelWrap::PreprocessU8>("preprocessU8"),
                         InstanceMethod<&SwinModelWrap::ExportTrainable>("exportTrainable"),
                         InstanceMethod<&SwinModelWrap::ImportTrainable>("importTrainable"),
                         InstanceMethod<&SwinModelWrap::ConfigureOptimizer>("configureOptimizer"),
                         InstanceMethod<&SwinModelWrap::SetLearningRate>("setLearningRate"),
                         InstanceMethod<&SwinModelWrap::SetClassWeights>("setClassWeights"),
                         InstanceMethod<&SwinModelWrap::TrainStep>("trainStep"),
                         InstanceMethod<&SwinModelWrap::TrainStepU8>("trainStepU8"),
                         InstanceMethod<&SwinModelWrap::Evaluate>("evaluate"),
                         InstanceMethod<&SwinModelWrap::EvaluateU8>("evaluateU8"),
                         InstanceMethod<&SwinModelWrap::ExportState>("exportState"),
                         InstanceMethod<&SwinModelWrap::ImportState>("importState"),
                         InstanceMethod<&SwinModelWrap::ExportBackbone>("exportBackbone"),
                         InstanceMethod<&SwinModelWrap::GradientState>("gradientState"),
                         InstanceMethod<&SwinModelWrap::RngState>("rngState"),
                         InstanceMethod<&SwinModelWrap::SetRngState>("setRngState"),
                         InstanceMethod<&SwinModelWrap::Info>("info"),
                         InstanceMethod<&SwinModelWrap::BackboneFingerprintJs>("backboneFingerprint"),
                         InstanceMethod<&SwinModelWrap::Dispose>("dispose"),
                         InstanceMethod<&SwinModelWrap::TrainStepFeatures>("trainStepFeatures"),
                         InstanceMethod<&SwinModelWrap::UploadU8>("uploadU8"),
                         InstanceMethod<&SwinModelWrap::GraphStatus>("graphStatus"),
                         unsupported("stem", "cached stem features (cacheFeatures with prompts in the upper blocks)"),
                         unsupported("clsLayerwise", "CLS embeddings (prompt.init from a class token)"),
                         unsupported("attachProcessGroup", "data-parallel training (nproc / a process group)"),
                         unsupported("voteStop", "data-parallel training (nproc / a process group)"),
                     });
}

SwinModelWrap::SwinModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<SwinModelWrap>(info) {
  Napi::Env env = info.Env();
  guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "NativeSwinModel(config) needs a config object");
    model_ = std::make_shared<PromptedSwin>(parse_swin_config(info[0].As<Napi::Object>()));
    return env.Undefined();
  });
}

Napi::Value SwinModelWrap::Unsupported(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string what = static_cast<const char*>(info.Data());
  return guard_sync(
      env, [&]() -> Napi::Value { throw Error(kErrOption, what + " is not supported by the Swin model (ViT only)"); });
}

Napi::Promise SwinModelWrap::RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive,
                                        PromiseWorker::Work work, PromiseWorker::Resolve resolve) {
  return PromiseWorker::Run(
      env, keep_alive, [thread = thread_, work = std::move(work)]() { thread->run(work); }, std::move(resolve));
}

std::shared_ptr<PromptedSwin> SwinModelWrap::model(Napi::Env env) const {
  if (!model_) throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrDisposed, "the model was disposed"}));
  return model_;
}

std::shared_ptr<SwinTrainer> SwinModelWrap::trainer(Napi::Env env) const {
  if (!trainer_) {
    throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrArgument, "call configureOptimizer() before training"}));
  }
  return trainer_;
}

Napi::Value SwinModelWrap::LoadBackbone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsString() && info[1].IsArray(),
            "loadBackbone(path, entries) needs a path and an array of entries");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    std::vector<TensorEntry> entries = tensor_entries_of(info[1].As<Napi::Array>());
    auto fingerprint = std::make_shared<BackboneFingerprint>();
    return RunOnModel(
        env, {Value()},
        [m, path, entries, fingerprint]() {
          TensorMap weights = read_tensor_entries(path, entries);
          std::lock_guard<std::mutex> lock(m->mutex());
          m->load_backbone(weights);
          *fingerprint = fingerprint_backbone(m->backbone_tensors());
        },
        [this, fingerprint](Napi::Env env) -> Napi::Value {
          fingerprint_ = fingerprint;
          return env.Undefined();
        });
  });
}

Napi::Value SwinModelWrap::RunImages(const Napi::CallbackInfo& info, bool u8, ImageOutput output) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == (u8 ? 1u : 2u),
            u8 ? "expected (batch)" : "expected (images: Float32Array, shape: number[])");
    ImageInput in;
    read_image_input(info, u8, in);
    auto result = std::make_shared<at::Tensor>();
    return RunOnModel(
        env, {Value(), in.memory},
        [m, in, output, result]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          c10::InferenceMode inference;
          at::Tensor x = in.tensor(m->device());
          if (output == ImageOutput::Logits) x = m->logits(x, false);
          if (output == ImageOutput::Features) x = m->features(x, false);
          *result = x.to(at::kCPU).contiguous();
        },
        [result](Napi::Env env) -> Napi::Value { return to_float32_array(env, *result); });
  });
}

Napi::Value SwinModelWrap::Forward(const Napi::CallbackInfo& info) {
  return RunImages(info, false, ImageOutput::Logits);
}
Napi::Value SwinModelWrap::Features(const Napi::CallbackInfo& info) {
  return RunImages(info, false, ImageOutput::Features);
}
Napi::Value SwinModelWrap::ForwardU8(const Napi::CallbackInfo& info) {
  return RunImages(info, true, ImageOutput::Logits);
}
Napi::Value SwinModelWrap::PreprocessU8(const Napi::CallbackInfo& info) {
  return RunImages(info, true, ImageOutput::Preprocessed);
}

Napi::Value SwinModelWrap::ExportTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto result = std::make_shared<TensorMap>();
  return RunOnModel(
      env, {Value()},
      [m, result]() {
        std::lock_guard<std::mutex> lock(m->mutex());
        *result = m->export_trainable();
      },
      [result](Napi::Env env) -> Napi::Value { return tensors_to_js(env, *result); });
}

Napi::Value SwinModelWrap::ImportTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1, "importTrainable(tensors) needs an array");
    auto tensors = tensors_from_js(info[0]);
    return RunOnModel(env, {Value()}, [m, tensors]() {
      std::lock_guard<std::mutex> lock(m->mutex());
      m->import_trainable(*tensors);
    });
  });
}

Napi::Value SwinModelWrap::ConfigureOptimizer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "configureOptimizer(options) needs an object");
    const OptimizerSpec spec = optimizer_spec_from_js(info[0].As<Napi::Object>());
    if (spec.cuda_graphs) throw Error(kErrOption, "cudaGraphs is not supported by the Swin model (ViT only)");
    std::lock_guard<std::mutex> lock(m->mutex());
    trainer_ = std::make_shared<SwinTrainer>(m, spec.config, spec.clip_grad_norm, spec.max_nonfinite);
    return env.Undefined();
  });
}

Napi::Value SwinModelWrap::SetLearningRate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto t = trainer(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsNumber(), "setLearningRate(lr) needs a number");
    std::lock_guard<std::mutex> lock(m->mutex());
    t->set_lr(info[0].As<Napi::Number>().DoubleValue());
    return env.Undefined();
  });
}

Napi::Value SwinModelWrap::SetClassWeights(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1, "setClassWeights(weights | null)");
    at::Tensor w;
    if (!info[0].IsNull() && !info[0].IsUndefined()) {
      FloatView v = float_view(info[0], "weights");
      w = at::from_blob(const_cast<float*>(v.data), {static_cast<int64_t>(v.length)}, at::kFloat).clone();
    }
    std::lock_guard<std::mutex> lock(m->mutex());
    m->set_class_weights(w);
    return env.Undefined();
  });
}

Napi::Value SwinModelWrap::RunTrainStep(const Napi::CallbackInfo& info, bool u8, bool features) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto t = trainer(env);
  return guard_sync(env, [&]() -> Napi::Value {
    ImageInput in;
    require(info.Length() == (u8 ? 2u : 3u),
            u8 ? "expected (batch, labels: Int32Array)"
               : "expected (images: Float32Array, shape: number[], labels: Int32Array)");
    const size_t next = read_image_input(info, u8, in);
    at::Tensor labels = labels_of(info[next]);
    auto result = std::make_shared<TrainStepResult>();
    return RunOnModel(
        env, {Value(), in.memory},
        [m, t, in, labels, features, result]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          const at::Tensor x = in.tensor(m->device());
          *result = features ? t->step_features(x, labels) : t->step(x, labels);
        },
        [result](Napi::Env env) -> Napi::Value { return train_step_to_js(env, *result); });
  });
}

Napi::Value SwinModelWrap::TrainStep(const Napi::CallbackInfo& info) { return RunTrainStep(info, false); }
Napi::Value SwinModelWrap::TrainStepU8(const Napi::CallbackInfo& info) { return RunTrainStep(info, true); }
Napi::Value SwinModelWrap::TrainStepFeatures(const Napi::CallbackInfo& info) { return RunTrainStep(info, false, true); }

// As NativeModel's uploadU8 (model_wrap.cc): the copy does not take the model's lock.
Napi::Value SwinModelWrap::UploadU8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    StagedBatchWrap* target = info.Length() == 2 ? StagedBatchWrap::From(info[1]) : nullptr;
    require(target != nullptr, "uploadU8(batch, target) needs a uint8 batch and a NativeStagedBatch");
    Napi::Value pixels;
    auto batch = std::make_shared<ImageBatchU8>(image_batch_u8(info[0], pixels));
    target->begin_upload(env);
    auto pixels_keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(pixels.As<Napi::Object>()));
    const at::Device device = m->device();
    return PromiseWorker::Run(
        env, {Value(), info[1]},
        [device, batch]() {
          batch->staged = stage_pixels(batch->pixels, device);
          batch->pixels = batch->staged.pixels;
        },
        [batch, target, pixels_keep](Napi::Env env) -> Napi::Value {
          target->end_upload(*batch, pixels_keep->Value());
          return env.Undefined();
        },
        [target](Napi::Env) { target->end_upload(std::nullopt, Napi::Value()); });
  });
}

Napi::Value SwinModelWrap::GraphStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  trainer(env);
  Napi::Object o = Napi::Object::New(env);
  o.Set("requested", false);
  o.Set("captured", false);
  o.Set("captures", 0.0);
  o.Set("replays", 0.0);
  o.Set("fallback", env.Null());
  return o;
}

Napi::Value SwinModelWrap::RunEvaluate(const Napi::CallbackInfo& info, bool u8) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    ImageInput in;
    require(info.Length() == (u8 ? 3u : 4u),
            u8 ? "expected (batch, labels, keepLogits)" : "expected (images, shape, labels, keepLogits)");
    const size_t next = read_image_input(info, u8, in);
    at::Tensor labels = labels_of(info[next]);
    const bool keep_logits = info[next + 1].ToBoolean().Value();
    auto result = std::make_shared<EvalResult>();
    return RunOnModel(
        env, {Value(), in.memory},
        [m, in, labels, keep_logits, result]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          *result = evaluate(*m, in.tensor(m->device()), labels, keep_logits);
        },
        [result](Napi::Env env) -> Napi::Value { return eval_result_to_js(env, *result); });
  });
}

Napi::Value SwinModelWrap::Evaluate(const Napi::CallbackInfo& info) { return RunEvaluate(info, false); }
Napi::Value SwinModelWrap::EvaluateU8(const Napi::CallbackInfo& info) { return RunEvaluate(info, true); }

Napi::Value SwinModelWrap::ExportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto t = trainer(env);
  struct State {
    TensorMap tensors;
    int64_t step, nonfinite_total, nonfinite_streak;
    at::Tensor rng;
  };
  auto state = std::make_shared<State>();
  return RunOnModel(
      env, {Value()},
      [m, t, state]() {
        std::lock_guard<std::mutex> lock(m->mutex());
        state->tensors = m->export_trainable();
        for (auto& [k, v] : t->optimizer().export_state()) state->tensors[k] = v;
        state->step = t->optimizer().step_count();
        state->nonfinite_total = t->nonfinite_total();
        state->nonfinite_streak = t->nonfinite_streak();
        state->rng = m->dropout_rng().get_state().contiguous();
      },
      [state](Napi::Env env) -> Napi::Value {
        Napi::Object o = Napi::Object::New(env);
        o.Set("tensors", tensors_to_js(env, state->tensors));
        o.Set("step", static_cast<double>(state->step));
        o.Set("nonfiniteTotal", static_cast<double>(state->nonfinite_total));
        o.Set("nonfiniteStreak", static_cast<double>(state->nonfinite_streak));
        Napi::Uint8Array rng = Napi::Uint8Array::New(env, static_cast<size_t>(state->rng.numel()));
        std::memcpy(rng.Data(), state->rng.data_ptr(), static_cast<size_t>(state->rng.numel()));
        o.Set("rng", rng);
        return o;
      });
}

Napi::Value SwinModelWrap::ImportState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "importState(state) needs an object");
    Napi::Object o = info[0].As<Napi::Object>();
    auto all = tensors_from_js(o.Get("tensors"));
    const int64_t step = int_field(o, "step");
    const int64_t total = int_field(o, "nonfiniteTotal");
    const int64_t streak = int_field(o, "nonfiniteStreak");
    Napi::Value rng_value = o.Get("rng");
    require(rng_value.IsTypedArray() && rng_value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
            "rng must be a Uint8Array");
    Napi::Uint8Array rng_js = rng_value.As<Napi::Uint8Array>();
    at::Tensor rng = at::from_blob(rng_js.Data(), {static_cast<int64_t>(rng_js.ElementLength())}, at::kByte).clone();
    Napi::Value optimizer = o.Get("optimizer");
    std::optional<OptimizerSpec> spec;
    if (!optimizer.IsUndefined()) {
      require(optimizer.IsObject(), "optimizer must be an object");
      spec = optimizer_spec_from_js(optimizer.As<Napi::Object>());
    }
    std::shared_ptr<SwinTrainer> current = spec ? trainer_ : trainer(env);
    auto installed = std::make_shared<std::shared_ptr<SwinTrainer>>();
    return RunOnModel(
        env, {Value()},
        [m, current, spec, installed, all, step, total, streak, rng]() {
          TensorMap trainable, optim;
          for (auto& [k, v] : *all) (k.rfind("optim.", 0) == 0 ? optim : trainable)[k] = v;
          std::lock_guard<std::mutex> lock(m->mutex());
          // Every check before any change (as NativeModel's importState).
          m->dropout_rng().clone().set_state(rng);
          m->check_trainable(trainable);
          std::shared_ptr<SwinTrainer> target =
              spec ? std::make_shared<SwinTrainer>(m, spec->config, spec->clip_grad_norm, spec->max_nonfinite)
                   : current;
          target->optimizer().import_state(optim, step, m->trainable_tensors());
          m->import_trainable(trainable);
          target->restore_counters(total, streak);
          m->dropout_rng().set_state(rng);
          *installed = target;
        },
        [this, installed](Napi::Env env) -> Napi::Value {
          trainer_ = *installed;
          return env.Undefined();
        });
  });
}

Napi::Value SwinModelWrap::ExportBackbone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto result = std::make_shared<TensorMap>();
  return RunOnModel(
      env, {Value()},
      [m, result]() {
        std::lock_guard<std::mutex> lock(m->mutex());
        for (auto& t : m->backbone_tensors())
          (*result)[t.name] = t.slot->detach().to(at::kCPU, at::kFloat).contiguous();
      },
      [result](Napi::Env env) -> Napi::Value { return tensors_to_js(env, *result); });
}

Napi::Value SwinModelWrap::GradientState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Array with_grad = Napi::Array::New(env), backbone_requires_grad = Napi::Array::New(env);
    for (auto& t : m->all_tensors())
      if (t.slot->grad().defined()) with_grad.Set(with_grad.Length(), t.name);
    for (auto& t : m->backbone_tensors())
      if (t.slot->requires_grad()) backbone_requires_grad.Set(backbone_requires_grad.Length(), t.name);
    Napi::Object o = Napi::Object::New(env);
    o.Set("withGrad", with_grad);
    o.Set("backboneRequiresGrad", backbone_requires_grad);
    return o;
  });
}

Napi::Value SwinModelWrap::RngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    const at::Tensor state = m->dropout_rng().get_state().contiguous();
    Napi::Uint8Array out = Napi::Uint8Array::New(env, static_cast<size_t>(state.numel()));
    std::memcpy(out.Data(), state.data_ptr(), static_cast<size_t>(state.numel()));
    return out;
  });
}

Napi::Value SwinModelWrap::SetRngState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsTypedArray() &&
                info[0].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
            "setRngState(state) needs a Uint8Array");
    Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
    std::lock_guard<std::mutex> lock(m->mutex());
    m->dropout_rng().set_state(
        at::from_blob(bytes.Data(), {static_cast<int64_t>(bytes.ElementLength())}, at::kByte).clone());
    return env.Undefined();
  });
}

Napi::Value SwinModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Object out = Napi::Object::New(env);
    out.Set("trainableParams", static_cast<double>(m->trainable_params()));
    out.Set("stemBlocks", 0.0);
    out.Set("totalParams", static_cast<double>(m->total_params()));
    out.Set("device", m->device().str());
    out.Set("backboneDtype", "float32");
    out.Set("backboneBytes", static_cast<double>(m->backbone_bytes()));
    out.Set("fusedLayerNorm", false);
    return out;
  });
}

Napi::Value SwinModelWrap::BackboneFingerprintJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  return fingerprint_ ? Napi::Value(fingerprint_to_js(env, *fingerprint_)) : env.Null();
}

void SwinModelWrap::Dispose(const Napi::CallbackInfo&) {
  trainer_.reset();
  model_.reset();
  thread_.reset();
}

}  // namespace vpt
