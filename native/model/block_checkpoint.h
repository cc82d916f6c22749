// block_checkpoint.h — activation checkpointing for a frozen transformer block: the forward
// keeps only the block's input; the backward recomputes the block and returns the gradient
// for that input. Activation memory drops from every block's to one block's, for a second
// forward pass. Only for frozen blocks (prompt tuning, linear probing): the block's weights
// get no gradient here.
#pragma once

#include <ATen/ATen.h>

#include "model/vit.h"

namespace vpt {

// vit.block_forward(index, x, queries, kv_rows), recomputed in the backward
// pass; kv_rows (VPT-deep's prompts, trainable) get their gradient too. With `bf16`, the
// recompute runs under bf16 autocast on `device`, as the forward did. `vit` must outlive the
// backward pass.
at::Tensor checkpointed_block(const VisionTransformer& vit, int64_t index, const at::Tensor& x, int64_t queries,
                              c10::DeviceType device, bool bf16, const at::Tensor& kv_rows = at::Tensor());

}  // namespace vpt
