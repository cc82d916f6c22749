// options_helper.h — the NativeModel's option objects, validated in TypeScript (lib/model/),
// copied into the engine's plain structs. [sync] Runs on the JS thread.
// @throw vpt::Error VPT_ARGUMENT naming the key when a field is missing or of the wrong type.
#pragma once

#include <napi.h>

#include <cstdint>

#include "model/prompted_vit.h"
#include "train/optimizer.h"

namespace vpt {

// The constructor's {vit, prompt?, numClasses, headHiddenLayers, transfer, device, seed,
// precision, backboneDtype, checkpointBlocks, fusedLayerNorm}.
ModelConfig parse_config(const Napi::Object& o);

// configureOptimizer's options, read on the JS thread.
struct OptimizerSpec {
  OptimizerConfig config;
  double clip_grad_norm = 0.0;
  int64_t max_nonfinite = 0;
  bool cuda_graphs = false;
};

OptimizerSpec optimizer_spec_from_js(const Napi::Object& o);

}  // namespace vpt
