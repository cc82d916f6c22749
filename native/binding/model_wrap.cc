// model_wrap.cc — see model_wrap.h.
#include "binding/model_wrap.h"

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <sstream>
#include <string>

#include "binding/fingerprint_helper.h"
#include "binding/js_args.h"
#include "binding/options_helper.h"
#include "binding/process_group_wrap.h"
#include "binding/promise_worker.h"
#include "binding/staged_batch_wrap.h"
#include "binding/tensor_helper.h"
#include "distributed/data_parallel.h"

namespace vpt {

namespace {

// Marks NativeModel objects so shareBackbone can tell one from any other object.
constexpr napi_type_tag kModelTag = {0x7670742d6e617469ULL, 0x6d6f64656c777031ULL};

// The storage of the backbone's first tensor as an opaque key ("" before a backbone is loaded):
// its address mixed with a per-process random salt, so no address reaches JS.
std::string backbone_key(PromptedVit& m) {
  static const uint64_t salt = (static_cast<uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  for (auto& t : m.backbone_tensors()) {
    if (t.slot->defined() && t.slot->has_storage() && t.slot->storage().data()) {
      uint64_t x = reinterpret_cast<uintptr_t>(t.slot->storage().data()) ^ salt;
      // splitmix64's finalizer: a bijection, so distinct storages keep distinct keys.
      x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
      x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
      x ^= x >> 31;
      std::ostringstream key;
      key << t.slot->device() << '/' << std::hex << x;
      return key.str();
    }
  }
  return "";
}

std::shared_ptr<Trainer> make_trainer(const std::shared_ptr<PromptedVit>& m, const OptimizerSpec& spec) {
  return std::make_shared<Trainer>(m, spec.config, spec.clip_grad_norm, spec.max_nonfinite, spec.cuda_graphs);
}

}  // namespace

Napi::Function ModelWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeModel",
                     {
                         InstanceMethod<&ModelWrap::LoadBackbone>("loadBackbone"),
                         InstanceMethod<&ModelWrap::LoadSide>("loadSide"),
                         InstanceMethod<&ModelWrap::Forward>("forward"),
                         InstanceMethod<&ModelWrap::Features>("features"),
                         InstanceMethod<&ModelWrap::Stem>("stem"),
                         InstanceMethod<&ModelWrap::ClsLayerwise>("clsLayerwise"),
                         InstanceMethod<&ModelWrap::ExportTrainable>("exportTrainable"),
                         InstanceMethod<&ModelWrap::ImportTrainable>("importTrainable"),
                         InstanceMethod<&ModelWrap::ConfigureOptimizer>("configureOptimizer"),
                         InstanceMethod<&ModelWrap::SetLearningRate>("setLearningRate"),
                         InstanceMethod<&ModelWrap::SetClassWeights>("setClassWeights"),
                         InstanceMethod<&ModelWrap::TrainStep>("trainStep"),
                         InstanceMethod<&ModelWrap::AttachProcessGroup>("attachProcessGroup"),
                         InstanceMethod<&ModelWrap::VoteStop>("voteStop"),
                         InstanceMethod<&ModelWrap::RngState>("rngState"),
                         InstanceMethod<&ModelWrap::SetRngState>("setRngState"),
                         InstanceMethod<&ModelWrap::TrainStepFeatures>("trainStepFeatures"),
                         InstanceMethod<&ModelWrap::Evaluate>("evaluate"),
                         InstanceMethod<&ModelWrap::ExportState>("exportState"),
                         InstanceMethod<&ModelWrap::ImportState>("importState"),
                         InstanceMethod<&ModelWrap::ExportBackbone>("exportBackbone"),
                         InstanceMethod<&ModelWrap::GradientState>("gradientState"),
                         InstanceMethod<&ModelWrap::Info>("info"),
                         InstanceMethod<&ModelWrap::PreprocessU8>("preprocessU8"),
                         InstanceMethod<&ModelWrap::ForwardU8>("forwardU8"),
                         InstanceMethod<&ModelWrap::TrainStepU8>("trainStepU8"),
                         InstanceMethod<&ModelWrap::UploadU8>("uploadU8"),
                         InstanceMethod<&ModelWrap::GraphStatus>("graphStatus"),
                         InstanceMethod<&ModelWrap::EvaluateU8>("evaluateU8"),
                         InstanceMethod<&ModelWrap::Dispose>("dispose"),
                         InstanceMethod<&ModelWrap::BackboneFingerprintJs>("backboneFingerprint"),
                         InstanceMethod<&ModelWrap::ShareBackbone>("shareBackbone"),
                         InstanceMethod<&ModelWrap::TrainStepGrouped>("trainStepGrouped"),
                         InstanceMethod<&ModelWrap::GroupedStepUnsupported>("groupedStepUnsupported"),
                     });
}

ModelWrap::ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {
  Napi::Env env = info.Env();
  guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "NativeModel(config) needs a config object");
    model_ = std::make_shared<PromptedVit>(parse_config(info[0].As<Napi::Object>()));
    info.This().As<Napi::Object>().TypeTag(&kModelTag);
    return env.Undefined();
  });
}

ModelWrap* ModelWrap::From(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kModelTag)) return nullptr;
  return Napi::ObjectWrap<ModelWrap>::Unwrap(value.As<Napi::Object>());
}

Napi::Value ModelWrap::ShareBackbone(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    ModelWrap* wrap = info.Length() == 1 ? From(info[0]) : nullptr;
    require(wrap != nullptr, "shareBackbone(source) needs a NativeModel");
    std::shared_ptr<PromptedVit> source = wrap->model(env);
    std::shared_ptr<const BackboneFingerprint> fingerprint = wrap->fingerprint_;
    // On this model's thread, with both models locked (in one order: no deadlock with the reverse call).
    return RunOnModel(
        env, {Value(), info[0]},
        [m, source]() {
          if (m == source) {
            std::lock_guard<std::mutex> lock(m->mutex());
            m->share_backbone(*source);  // refused: a model cannot share its own backbone
            return;
          }
          std::scoped_lock lock(m->mutex(), source->mutex());
          m->share_backbone(*source);
        },
        [this, fingerprint](Napi::Env env) -> Napi::Value {
          fingerprint_ = fingerprint;
          return env.Undefined();
        });
  });
}

Napi::Promise ModelWrap::RunOnModel(Napi::Env env, const std::vector<Napi::Value>& keep_alive, PromiseWorker::Work work,
                                    PromiseWorker::Resolve resolve) {
  return PromiseWorker::Run(
      env, keep_alive, [thread = thread_, work = std::move(work)]() { thread->run(work); }, std::move(resolve));
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
    std::vector<TensorEntry> entries = tensor_entries_of(info[1].As<Napi::Array>());
    auto fingerprint = std::make_shared<BackboneFingerprint>();
    return RunOnModel(
        env, {Value()},
        [m, path, entries, fingerprint]() {
          TensorMap weights = read_tensor_entries(path, entries);
          std::lock_guard<std::mutex> lock(m->mutex());
          m->load_backbone(weights);
          // Taken as loaded: full fine-tuning changes the backbone later, the fingerprint stays its origin's.
          *fingerprint = fingerprint_backbone(m->backbone_tensors());
        },
        [this, fingerprint](Napi::Env env) -> Napi::Value {
          fingerprint_ = fingerprint;
          return env.Undefined();
        });
  });
}

// transfer sidetune: the side network's AlexNet convolutions from torchvision's state dict.
Napi::Value ModelWrap::LoadSide(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 2 && info[0].IsString() && info[1].IsArray(),
            "loadSide(path, entries) needs a path and an array of entries");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    std::vector<TensorEntry> entries = tensor_entries_of(info[1].As<Napi::Array>());
    return RunOnModel(
        env, {Value()},
        [m, path, entries]() {
          TensorMap weights = read_tensor_entries(path, entries);
          std::lock_guard<std::mutex> lock(m->mutex());
          m->load_side(weights, path);
        },
        [](Napi::Env env) -> Napi::Value { return env.Undefined(); });
  });
}

Napi::Value ModelWrap::RunImages(const Napi::CallbackInfo& info, bool u8, ImageOutput output) {
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
          if (output == ImageOutput::Stem) x = m->stem(x);
          if (output == ImageOutput::ClsLayerwise) x = m->cls_layerwise(x);
          *result = x.to(at::kCPU).contiguous();
        },
        [result](Napi::Env env) -> Napi::Value { return to_float32_array(env, *result); });
  });
}

Napi::Value ModelWrap::Forward(const Napi::CallbackInfo& info) { return RunImages(info, false, ImageOutput::Logits); }
Napi::Value ModelWrap::Features(const Napi::CallbackInfo& info) {
  return RunImages(info, false, ImageOutput::Features);
}
Napi::Value ModelWrap::Stem(const Napi::CallbackInfo& info) { return RunImages(info, false, ImageOutput::Stem); }
Napi::Value ModelWrap::ClsLayerwise(const Napi::CallbackInfo& info) {
  return RunImages(info, false, ImageOutput::ClsLayerwise);
}
Napi::Value ModelWrap::ForwardU8(const Napi::CallbackInfo& info) { return RunImages(info, true, ImageOutput::Logits); }
Napi::Value ModelWrap::PreprocessU8(const Napi::CallbackInfo& info) {
  return RunImages(info, true, ImageOutput::Preprocessed);
}

Napi::Value ModelWrap::ExportTrainable(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::ImportTrainable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1, "importTrainable(tensors) needs an array");
    auto tensors = tensors_from_js(info[0]);  // copied: trainable tensors are small
    return RunOnModel(env, {Value()}, [m, tensors]() {
      std::lock_guard<std::mutex> lock(m->mutex());
      m->import_trainable(*tensors);
    });
  });
}

std::shared_ptr<Trainer> ModelWrap::trainer(Napi::Env env) const {
  if (!trainer_) {
    throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrArgument, "call configureOptimizer() before training"}));
  }
  return trainer_;
}

Napi::Value ModelWrap::ConfigureOptimizer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "configureOptimizer(options) needs an object");
    const OptimizerSpec spec = optimizer_spec_from_js(info[0].As<Napi::Object>());
    std::lock_guard<std::mutex> lock(m->mutex());
    trainer_ = make_trainer(m, spec);
    trainer_->set_group(group_);
    return env.Undefined();
  });
}

Napi::Value ModelWrap::AttachProcessGroup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    ProcessGroupWrap* wrap = info.Length() == 1 ? ProcessGroupWrap::From(info[0]) : nullptr;
    require(wrap != nullptr, "attachProcessGroup(group) needs a joined NativeProcessGroup");
    std::shared_ptr<DistributedGroup> g = wrap->group(env);
    // Steps start reducing only after this rank's broadcast: the collectives stay in one order.
    return RunOnModel(
        env, {Value(), info[0]},
        [m, g]() {
          std::lock_guard<std::mutex> lock(m->mutex());
          broadcast_from_rank0(*g, m->trainable_tensors());
        },
        [this, m, g](Napi::Env env) -> Napi::Value {
          group_ = g;
          if (trainer_) {
            std::lock_guard<std::mutex> lock(m->mutex());  // a step may be running on the pool
            trainer_->set_group(g);
          }
          return env.Undefined();
        });
  });
}

Napi::Value ModelWrap::RngState(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::SetRngState(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::VoteStop(const Napi::CallbackInfo& info) {
  trainer(info.Env())->vote_stop();
  return info.Env().Undefined();
}

Napi::Value ModelWrap::SetLearningRate(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::SetClassWeights(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::RunTrainStep(const Napi::CallbackInfo& info, bool u8, bool features) {
  Napi::Env env = info.Env();
  auto m = model(env);
  auto t = trainer(env);
  return guard_sync(env, [&]() -> Napi::Value {
    ImageInput in;
    require(info.Length() == (u8 ? 2u : 3u),
            u8 ? "expected (batch, labels: Int32Array)"
               : "expected (images or features: Float32Array, shape: number[], labels: Int32Array)");
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

Napi::Value ModelWrap::UploadU8(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    StagedBatchWrap* target = info.Length() == 2 ? StagedBatchWrap::From(info[1]) : nullptr;
    require(target != nullptr, "uploadU8(batch, target) needs a uint8 batch and a NativeStagedBatch");
    Napi::Value pixels;
    auto batch = std::make_shared<ImageBatchU8>(image_batch_u8(info[0], pixels));
    target->begin_upload(env);
    auto pixels_keep = std::make_shared<Napi::ObjectReference>(Napi::Persistent(pixels.As<Napi::Object>()));
    // The upload does not take the model's lock: it overlaps the step running now. The worker
    // keeps the target alive (so `target` stays valid) and pixels_keep the pixels.
    Napi::Promise promise = PromiseWorker::Run(
        env, {Value(), info[1]},
        [m, batch]() {
          batch->staged = stage_pixels(batch->pixels, m->device());
          batch->pixels = batch->staged.pixels;
        },
        [batch, target, pixels_keep](Napi::Env env) -> Napi::Value {
          target->end_upload(*batch, pixels_keep->Value());
          return env.Undefined();
        },
        [target](Napi::Env) { target->end_upload(std::nullopt, Napi::Value()); });
    return promise;
  });
}

Napi::Value ModelWrap::GraphStatus(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    auto t = trainer(env);
    std::lock_guard<std::mutex> lock(m->mutex());
    const vpt::GraphStatus g = t->graph_status();
    Napi::Object o = Napi::Object::New(env);
    o.Set("requested", g.requested);
    o.Set("captured", g.captured);
    o.Set("captures", static_cast<double>(g.captures));
    o.Set("replays", static_cast<double>(g.replays));
    o.Set("fallback", g.fallback.empty() ? env.Null() : Napi::String::New(env, g.fallback));
    return o;
  });
}

Napi::Value ModelWrap::TrainStep(const Napi::CallbackInfo& info) { return RunTrainStep(info, false, false); }
Napi::Value ModelWrap::TrainStepFeatures(const Napi::CallbackInfo& info) { return RunTrainStep(info, false, true); }
Napi::Value ModelWrap::TrainStepU8(const Napi::CallbackInfo& info) { return RunTrainStep(info, true, false); }

Napi::Value ModelWrap::RunEvaluate(const Napi::CallbackInfo& info, bool u8) {
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

Napi::Value ModelWrap::Evaluate(const Napi::CallbackInfo& info) { return RunEvaluate(info, false); }
Napi::Value ModelWrap::EvaluateU8(const Napi::CallbackInfo& info) { return RunEvaluate(info, true); }

Napi::Value ModelWrap::ExportState(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::ImportState(const Napi::CallbackInfo& info) {
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
    // With `optimizer` the state comes with its own optimizer settings: a new trainer takes
    // them, and replaces the current one only once everything has been imported.
    Napi::Value optimizer = o.Get("optimizer");
    std::optional<OptimizerSpec> spec;
    if (!optimizer.IsUndefined()) {
      require(optimizer.IsObject(), "optimizer must be an object");
      spec = optimizer_spec_from_js(optimizer.As<Napi::Object>());
    }
    std::shared_ptr<Trainer> current = spec ? trainer_ : trainer(env);
    auto installed = std::make_shared<std::shared_ptr<Trainer>>();
    return RunOnModel(
        env, {Value()},
        [m, current, spec, installed, all, step, total, streak, rng]() {
          TensorMap trainable, optim;
          for (auto& [k, v] : *all) (k.rfind("optim.", 0) == 0 ? optim : trainable)[k] = v;
          std::lock_guard<std::mutex> lock(m->mutex());
          // Every check comes before any change: a state that does not fit leaves the model,
          // its optimizer and its generator as they were.
          m->dropout_rng().clone().set_state(rng);
          m->check_trainable(trainable);
          std::shared_ptr<Trainer> target = spec ? make_trainer(m, *spec) : current;
          target->optimizer().import_state(optim, step, m->trainable_tensors());  // checks, then replaces
          m->import_trainable(trainable);
          target->restore_counters(total, streak);
          m->dropout_rng().set_state(rng);
          *installed = target;
        },
        [this, m, installed](Napi::Env env) -> Napi::Value {
          if (*installed != trainer_) {
            std::lock_guard<std::mutex> lock(m->mutex());  // a step may be running on the pool
            trainer_ = *installed;
            trainer_->set_group(group_);
          }
          return env.Undefined();
        });
  });
}

Napi::Value ModelWrap::ExportBackbone(const Napi::CallbackInfo& info) {
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

Napi::Value ModelWrap::GradientState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Array with_grad = Napi::Array::New(env), backbone_requires_grad = Napi::Array::New(env);
    for (auto& t : m->all_tensors()) {
      if (t.slot->grad().defined()) with_grad.Set(with_grad.Length(), t.name);
    }
    for (auto& t : m->backbone_tensors()) {
      if (t.slot->requires_grad()) backbone_requires_grad.Set(backbone_requires_grad.Length(), t.name);
    }
    Napi::Object o = Napi::Object::New(env);
    o.Set("withGrad", with_grad);
    o.Set("backboneRequiresGrad", backbone_requires_grad);
    return o;
  });
}

Napi::Value ModelWrap::Info(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto m = model(env);
  return guard_sync(env, [&]() -> Napi::Value {
    std::lock_guard<std::mutex> lock(m->mutex());
    Napi::Object out = Napi::Object::New(env);
    out.Set("trainableParams", static_cast<double>(m->trainable_params()));
    out.Set("stemBlocks", static_cast<double>(m->stem_blocks()));
    out.Set("totalParams", static_cast<double>(m->total_params()));
    out.Set("device", m->device().str());
    out.Set("backboneDtype", m->config().bf16_backbone ? "bfloat16" : "float32");
    out.Set("backboneBytes", static_cast<double>(m->backbone_bytes()));
    out.Set("fusedLayerNorm", m->config().fused_norm);
    out.Set("backboneShared", m->backbone_shared());
    // The frozen backbone's storage, as an opaque key: models holding one backbone report the same key.
    out.Set("backboneKey", backbone_key(*m));
    return out;
  });
}

// The model's logits for a uint8 batch, or (logits = false) the input the device makes of it.
void ModelWrap::Dispose(const Napi::CallbackInfo& info) {
  // Work already queued keeps its own reference and finishes; new calls are refused.
  trainer_.reset();
  group_.reset();
  model_.reset();
  thread_.reset();
}

Napi::Value ModelWrap::BackboneFingerprintJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  model(env);
  return fingerprint_ ? Napi::Value(fingerprint_to_js(env, *fingerprint_)) : env.Null();
}

}  // namespace vpt
