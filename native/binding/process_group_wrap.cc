// process_group_wrap.cc — see process_group_wrap.h.
#include "binding/process_group_wrap.h"

#include <cstring>

#include "binding/js_args.h"
#include "binding/promise_worker.h"

namespace vpt {

namespace {

// Marks NativeProcessGroup objects so a model can tell one from any other object.
constexpr napi_type_tag kProcessGroupTag = {0x7670742d6e617469ULL, 0x70726f6367727031ULL};

GroupOptions parse_options(const Napi::Object& o) {
  GroupOptions g;
  g.rank = static_cast<int>(int_field(o, "rank"));
  g.world_size = static_cast<int>(int_field(o, "worldSize"));
  g.master_addr = string_field(o, "masterAddr");
  g.master_port = static_cast<int>(int_field(o, "masterPort"));
  g.backend = string_field(o, "backend");
  g.timeout = std::chrono::milliseconds(int_field(o, "timeoutMs"));
  g.gloo_interface = string_field(o, "glooInterface");
  g.cuda_device = static_cast<int>(int_field(o, "cudaDevice"));
  return g;
}

}  // namespace

Napi::Function ProcessGroupWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeProcessGroup",
                     {
                         InstanceMethod<&ProcessGroupWrap::Join>("join"),
                         InstanceMethod<&ProcessGroupWrap::AllReduceSum>("allReduceSum"),
                         InstanceMethod<&ProcessGroupWrap::Barrier>("barrier"),
                         InstanceMethod<&ProcessGroupWrap::Dispose>("dispose"),
                         StaticMethod<&ProcessGroupWrap::Backends>("backends"),
                     });
}

ProcessGroupWrap::ProcessGroupWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ProcessGroupWrap>(info) {
  info.This().As<Napi::Object>().TypeTag(&kProcessGroupTag);
}

ProcessGroupWrap* ProcessGroupWrap::From(const Napi::Value& value) {
  if (!value.IsObject() || !value.As<Napi::Object>().CheckTypeTag(&kProcessGroupTag)) return nullptr;
  return Napi::ObjectWrap<ProcessGroupWrap>::Unwrap(value.As<Napi::Object>());
}

std::shared_ptr<DistributedGroup> ProcessGroupWrap::group(Napi::Env env) const {
  if (!group_) {
    throw Napi::Error(env,
                      PromiseWorker::MakeError(env, {kErrDisposed, "the process group is not joined or was disposed"}));
  }
  return group_;
}

Napi::Value ProcessGroupWrap::Join(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsObject(), "join(options) needs an object");
    require(!group_, "this process group already joined");
    const GroupOptions options = parse_options(info[0].As<Napi::Object>());
    auto joined = std::make_shared<std::shared_ptr<DistributedGroup>>();
    return PromiseWorker::Run(
        env, {Value()}, [options, joined]() { *joined = DistributedGroup::connect(options); },
        [this, joined](Napi::Env env) -> Napi::Value {
          group_ = *joined;
          return env.Undefined();
        });
  });
}

Napi::Value ProcessGroupWrap::AllReduceSum(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = group(env);
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() == 1 && info[0].IsTypedArray() &&
                info[0].As<Napi::TypedArray>().TypedArrayType() == napi_float64_array,
            "allReduceSum(values) needs a Float64Array");
    Napi::Float64Array values = info[0].As<Napi::Float64Array>();
    // Copied on the JS thread: the caller may reuse its array while the collective runs.
    auto flat = std::make_shared<at::Tensor>(
        at::from_blob(values.Data(), {static_cast<int64_t>(values.ElementLength())}, at::kDouble).clone());
    return PromiseWorker::Run(
        env, {Value()},
        [g, flat]() {
          at::Tensor t = flat->to(g->device());
          g->allreduce_sum(t);
          *flat = t.to(at::kCPU).contiguous();
        },
        [flat](Napi::Env env) -> Napi::Value {
          Napi::Float64Array out = Napi::Float64Array::New(env, static_cast<size_t>(flat->numel()));
          std::memcpy(out.Data(), flat->data_ptr<double>(), static_cast<size_t>(flat->numel()) * sizeof(double));
          return out;
        });
  });
}

Napi::Value ProcessGroupWrap::Barrier(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto g = group(env);
  return PromiseWorker::Run(env, {Value()}, [g]() { g->barrier(); });
}

Napi::Value ProcessGroupWrap::Backends(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("gloo", gloo_available());
  o.Set("nccl", nccl_available());
  return o;
}

void ProcessGroupWrap::Dispose(const Napi::CallbackInfo&) { group_.reset(); }

}  // namespace vpt
