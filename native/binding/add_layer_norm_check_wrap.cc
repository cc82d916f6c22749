// add_layer_norm_check_wrap.cc — see add_layer_norm_check_wrap.h.
#include "binding/add_layer_norm_check_wrap.h"

#include <vector>

#include "binding/js_args.h"
#include "binding/promise_worker.h"
#include "kernels/add_layer_norm_check.h"
#include "model/prompted_vit.h"

namespace vpt {

Napi::Value CheckAddLayerNorm(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    require(info.Length() >= 1 && info[0].IsString(), "checkAddLayerNorm(device): device must be a string");
    const at::Device device = parse_device(info[0].As<Napi::String>().Utf8Value());
    const std::vector<AddLayerNormCheck> checks = check_add_layer_norm(device);
    Napi::Array cases = Napi::Array::New(env);
    for (const auto& c : checks) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", c.name);
      o.Set("fused", c.fused);
      o.Set("ok", c.ok());
      o.Set("tolerance", c.tolerance);
      Napi::Object diff = Napi::Object::New(env);
      diff.Set("sum", c.sum);
      diff.Set("normed", c.normed);
      diff.Set("gradX", c.grad_x);
      diff.Set("gradR", c.grad_r);
      diff.Set("gradRows", c.grad_rows);
      diff.Set("gradWeight", c.grad_weight);
      diff.Set("gradBias", c.grad_bias);
      o.Set("maxDiff", diff);
      cases.Set(cases.Length(), o);
    }
    Napi::Object out = Napi::Object::New(env);
    out.Set("fused", !checks.empty());
    out.Set("cases", cases);
    return out;
  });
}

}  // namespace vpt
