// process_group_wrap.cc — see process_group_wrap.h.
#include "process_group_wrap.h"

#include <cstring>

#include "promise_worker.h"

namespace vpt {

namespace {

// Marks NativeProcessGroup objects so a model can tell one from any other object.
constexpr napi_type_tag kProcessGroupTag = {0x7670742d6e617469ULL, 0x70726f6367727031ULL};

void require(bool ok, const std::string& what) {
  if (!ok) throw Error(kErrArgument, what);
}

Napi::Value field(const Napi::Object& o, const char* key, bool (Napi::Value::*is)() const, const char* type) {
  Napi::Value v = o.Get(key);
  require((v.*is)(), std::string("expected a ") + type + " for '" + key + "'");
  return v;
}

GroupOptions parse_options(const Napi::Object& o) {
  GroupOptions g;
  g.rank = field(o, "rank", &Napi::Value::IsNumber, "number").As<Napi::Number>().Int32Value();
  g.world_size = field(o, "worldSize", &Napi::Value::IsNumber, "number").As<Napi::Number>().Int32Value();
  g.master_addr = field(o, "masterAddr", &Napi::Value::IsString, "string").As<Napi::String>().Utf8Value();
  g.master_port = field(o, "masterPort", &Napi::Value::IsNumber, "number").As<Napi::Number>().Int32Value();
  g.backend = field(o, "backend", &Napi::Value::IsString, "string").As<Napi::String>().Utf8Value();
  g.timeout = std::chrono::milliseconds(
      field(o, "timeoutMs", &Napi::Value::IsNumber, "number").As<Napi::Number>().Int64Value());
  g.gloo_interface = field(o, "glooInterface", &Napi::Value::IsString, "string").As<Napi::String>().Utf8Value();
  g.cuda_device = field(o, "cudaDevice", &Napi::Value::IsNumber, "number").As<Napi::Number>().Int32Value();
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
    throw Napi::Error(env, PromiseWorker::MakeError(env, {kErrDisposed, "the process group is not joined or was disposed"}));
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
