// add_layer_norm_check_wrap.h — checkAddLayerNorm(): the fused kernels' self-check
// (kernels/add_layer_norm_check.h) for JS. [sync]
#pragma once

#include <napi.h>

namespace vpt {

// checkAddLayerNorm(device: string) -> { fused: boolean, cases: [...] }
Napi::Value CheckAddLayerNorm(const Napi::CallbackInfo& info);

}  // namespace vpt
