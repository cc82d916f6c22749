// fingerprint_helper.h — a backbone fingerprint (model/backbone_fingerprint.h) as the JS object
// {shapes, weights, params}. [sync] Runs on the JS thread.
#pragma once

#include <napi.h>

#include "model/backbone_fingerprint.h"

namespace vpt {

Napi::Object fingerprint_to_js(Napi::Env env, const BackboneFingerprint& f);

}  // namespace vpt
