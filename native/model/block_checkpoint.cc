// block_checkpoint.cc — see block_checkpoint.h.
#include "model/block_checkpoint.h"

#include <torch/autograd.h>

#include "runtime/compat.h"

namespace vpt {

namespace {

struct CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, int64_t vit, int64_t index,
                            int64_t queries, int64_t device, bool bf16) {
    ctx->save_for_backward({x});
    ctx->saved_data["vit"] = vit;
    ctx->saved_data["index"] = index;
    ctx->saved_data["queries"] = queries;
    ctx->saved_data["device"] = device;
    ctx->saved_data["bf16"] = bf16;
    at::NoGradGuard no_grad;  // keep no activations
    return reinterpret_cast<const VisionTransformer*>(vit)->block_forward(index, x, queries);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto* vit = reinterpret_cast<const VisionTransformer*>(ctx->saved_data["vit"].toInt());
    at::Tensor x = ctx->get_saved_variables()[0].detach().requires_grad_(true);
    at::Tensor y;
    {
      at::AutoGradMode grad(true);
      compat::AutocastGuard autocast(static_cast<c10::DeviceType>(ctx->saved_data["device"].toInt()),
                                     ctx->saved_data["bf16"].toBool());
      y = vit->block_forward(ctx->saved_data["index"].toInt(), x, ctx->saved_data["queries"].toInt());
    }
    at::Tensor dx = torch::autograd::grad({y}, {x}, {grad_out[0]})[0];
    return {dx, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed_block(const VisionTransformer& vit, int64_t index, const at::Tensor& x, int64_t queries,
                              c10::DeviceType device, bool bf16) {
  if (!at::GradMode::is_enabled() || !x.requires_grad()) return vit.block_forward(index, x, queries);
  return CheckpointedBlock::apply(x, reinterpret_cast<int64_t>(&vit), index, queries, static_cast<int64_t>(device),
                                  bf16);
}

}  // namespace vpt
