// fingerprint_helper.cc — see fingerprint_helper.h.
#include "binding/fingerprint_helper.h"

namespace vpt {

Napi::Object fingerprint_to_js(Napi::Env env, const BackboneFingerprint& f) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("shapes", f.shapes);
  o.Set("weights", f.weights);
  o.Set("params", static_cast<double>(f.params));
  return o;
}

}  // namespace vpt
