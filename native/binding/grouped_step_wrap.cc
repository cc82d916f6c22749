// grouped_step_wrap.cc — NativeModel's stacked group step (train/grouped_step.h): this model
// and `others`, which share its frozen backbone, step together on one batch.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "binding/js_args.h"
#include "binding/model_wrap.h"
#include "binding/promise_worker.h"
#include "binding/tensor_helper.h"
#include "train/grouped_step.h"

namespace vpt {

namespace {

// Every model's lock, taken in address order (as shareBackbone does: no deadlock with another
// caller taking several of them).
class LockAll {
 public:
  explicit LockAll(const std::vector<std::shared_ptr<Trainer>>& trainers) {
    std::vector<std::mutex*> mutexes;
    for (const auto& t : trainers) mutexes.push_back(&t->model()->mutex());
    std::sort(mutexes.begin(), mutexes.end());
    mutexes.erase(std::unique(mutexes.begin(), mutexes.end()), mutexes.end());
    for (std::mutex* m : mutexes) locks_.emplace_back(*m);
  }

 private:
  std::vector<std::unique_lock<std::mutex>> locks_;
};

}  // namespace

std::vector<std::shared_ptr<Trainer>> ModelWrap::GroupTrainers(Napi::Env env, const Napi::Value& others) {
  require(others.IsArray(), "others must be an array of NativeModel");
  std::vector<std::shared_ptr<Trainer>> trainers = {trainer(env)};
  std::vector<PromptedVit*> seen = {model(env).get()};
  Napi::Array list = others.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    ModelWrap* wrap = From(list.Get(i));
    require(wrap != nullptr, "others[" + std::to_string(i) + "] is not a NativeModel");
    PromptedVit* m = wrap->model(env).get();
    require(std::find(seen.begin(), seen.end(), m) == seen.end(),
            "others[" + std::to_string(i) + "] is a model already in the group");
    seen.push_back(m);
    trainers.push_back(wrap->trainer(env));
  }
  return trainers;
}

Napi::Value ModelWrap::GroupedStepUnsupported(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1, "groupedStepUnsupported(others: NativeModel[])");
    const auto trainers = GroupTrainers(env, info[0]);
    LockAll lock(trainers);
    const std::string why = grouped_step_unsupported(trainers);
    return why.empty() ? env.Null() : Napi::String::New(env, why);
  });
}

Napi::Value ModelWrap::TrainStepGrouped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    const bool u8 = info.Length() > 0 && !info[0].IsTypedArray();
    require(info.Length() == (u8 ? 3u : 4u),
            "trainStepGrouped(batch, labels, others) or (images: Float32Array, shape, labels, others)");
    ImageInput in;
    const size_t next = read_image_input(info, u8, in);
    at::Tensor labels = labels_of(info[next]);
    const auto trainers = GroupTrainers(env, info[next + 1]);
    auto outcomes = std::make_shared<std::vector<GroupedStepOutcome>>();
    // On this model's thread; the others' calls wait for their locks.
    return RunOnModel(
        env, {Value(), in.memory, info[next + 1]},
        [trainers, in, labels, outcomes]() {
          LockAll lock(trainers);
          const at::Tensor x = in.tensor(trainers[0]->model()->device());
          *outcomes = grouped_train_step(trainers, x, labels);
        },
        [outcomes](Napi::Env env) -> Napi::Value {
          Napi::Array out = Napi::Array::New(env, outcomes->size());
          for (uint32_t g = 0; g < outcomes->size(); ++g) {
            const GroupedStepOutcome& o = (*outcomes)[g];
            if (o.error) {
              Napi::Object e = Napi::Object::New(env);
              e.Set("code", o.error->code);
              e.Set("message", o.error->message);
              Napi::Object r = Napi::Object::New(env);
              r.Set("error", e);
              out.Set(g, r);
            } else {
              out.Set(g, train_step_to_js(env, o.result));
            }
          }
          return out;
        });
  });
}

}  // namespace vpt
