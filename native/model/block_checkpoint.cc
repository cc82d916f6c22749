// block_checkpoint.cc — see block_checkpoint.h.
#include "model/block_checkpoint.h"

#include <torch/autograd.h>

#include "runtime/compat.h"

namespace vpt {

namespace {

// A custom Function's inputs must all be defined tensors: absent kv_rows are a 0-element one.
bool is_absent(const at::Tensor& t) { return t.dim() == 1 && t.numel() == 0; }

struct CheckpointedBlock : public torch::autograd::Function<CheckpointedBlock> {
  static at::Tensor forward(torch::autograd::AutogradContext* ctx, const at::Tensor& x, const at::Tensor& kv_rows,
                            int64_t vit, int64_t index, int64_t queries, int64_t device, bool bf16) {
    ctx->save_for_backward({x, kv_rows});
    ctx->saved_data["vit"] = vit;
    ctx->saved_data["index"] = index;
    ctx->saved_data["queries"] = queries;
    ctx->saved_data["device"] = device;
    ctx->saved_data["bf16"] = bf16;
    at::NoGradGuard no_grad;  // keep no activations
    return reinterpret_cast<const VisionTransformer*>(vit)->block_forward(index, x, queries,
                                                                          is_absent(kv_rows) ? at::Tensor() : kv_rows);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto* vit = reinterpret_cast<const VisionTransformer*>(ctx->saved_data["vit"].toInt());
    const auto saved = ctx->get_saved_variables();
    const bool need_x = ctx->needs_input_grad(0);
    const bool need_rows = !is_absent(saved[1]) && ctx->needs_input_grad(1);
    at::Tensor x = saved[0].detach().requires_grad_(need_x);
    at::Tensor kv_rows = is_absent(saved[1]) ? at::Tensor() : saved[1].detach().requires_grad_(need_rows);
    at::Tensor y;
    {
      at::AutoGradMode grad(true);
      compat::AutocastGuard autocast(static_cast<c10::DeviceType>(ctx->saved_data["device"].toInt()),
                                     ctx->saved_data["bf16"].toBool());
      y = vit->block_forward(ctx->saved_data["index"].toInt(), x, ctx->saved_data["queries"].toInt(), kv_rows);
    }
    torch::autograd::variable_list inputs;
    if (need_x) inputs.push_back(x);
    if (need_rows) inputs.push_back(kv_rows);
    torch::autograd::variable_list grads;
    if (!inputs.empty()) grads = torch::autograd::grad({y}, inputs, {grad_out[0]});
    at::Tensor dx = need_x ? grads[0] : at::Tensor();
    at::Tensor drows = need_rows ? grads[need_x ? 1 : 0] : at::Tensor();
    return {dx, drows, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

at::Tensor checkpointed_block(const VisionTransformer& vit, int64_t index, const at::Tensor& x, int64_t queries,
                              c10::DeviceType device, bool bf16, const at::Tensor& kv_rows) {
  const bool rows_need_grad = kv_rows.defined() && kv_rows.requires_grad();
  if (!at::GradMode::is_enabled() || (!x.requires_grad() && !rows_need_grad)) {
    return vit.block_forward(index, x, queries, kv_rows);
  }
  return CheckpointedBlock::apply(x, kv_rows.defined() ? kv_rows : at::empty({0}, x.options()),
                                  reinterpret_cast<int64_t>(&vit), index, queries, static_cast<int64_t>(device), bf16);
}

}  // namespace vpt
