// backbone_fingerprint.h — what identifies a frozen backbone, so that a trainable state (a task's
// prompts and head) is only ever used on the backbone it was trained on.
//
//   shapes   FNV-1a 64 of "name:d0xd1x...;" over the tensors in name order ("name;" for a scalar)
//   weights  FNV-1a 64 of the tensors' values rounded to bfloat16 (little-endian bytes), in name order
//   params   total element count
// Rounding to bfloat16 first makes a bfloat16-stored backbone (ModelConfig::bf16_backbone) and
// the float32 one it was made from the same backbone; weights that differ only below bfloat16's
// precision are the same backbone for this purpose.
#pragma once

#include <cstdint>
#include <string>

#include "model/named_tensor.h"

namespace vpt {

struct BackboneFingerprint {
  std::string shapes;   // 16 hex digits
  std::string weights;  // 16 hex digits
  int64_t params = 0;
};

// [any thread] Reads every tensor (copying device tensors to the host in bfloat16).
BackboneFingerprint fingerprint_backbone(const NamedTensors& tensors);

}  // namespace vpt
