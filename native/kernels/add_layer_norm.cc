// add_layer_norm.cc — see add_layer_norm.h. The kernels live in add_layer_norm_cpu.cc and
// add_layer_norm_kernels.cu (launched from add_layer_norm_cuda.cc).
#include "kernels/add_layer_norm.h"

#include <torch/autograd.h>

#include "kernels/add_layer_norm_kernels.h"

namespace vpt {

#if VPT_WITH_CUDA_KERNELS
// add_layer_norm_cuda.cc: launch on the current stream of the tensors' device.
void launch_add_norm_forward_cuda(const kernels::AddNormForward& args, const at::Device& device);
void launch_add_norm_backward_cuda(const kernels::AddNormBackward& args, const at::Device& device);
#endif

namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

kernels::Dtype kernel_dtype(at::ScalarType type) {
  return type == at::kBFloat16 ? kernels::Dtype::BFloat16 : kernels::Dtype::Float32;
}

bool float_or_bf16(at::ScalarType type) { return type == at::kFloat || type == at::kBFloat16; }

// `rows` as (B, n, D) with contiguous (n, D) planes, so that a batch stride of 0 (the same
// prompts expanded over the batch) needs no copy.
at::Tensor rows_with_dense_planes(const at::Tensor& rows) {
  const int64_t D = rows.size(2);
  return rows.stride(2) == 1 && rows.stride(1) == D ? rows : rows.contiguous();
}

// add_layer_norm_uses_kernels() has checked that the device has kernels.
void run_forward(const kernels::AddNormForward& a, const at::Device& device) {
  if (device.is_cpu()) return kernels::add_norm_forward_cpu(a);
#if VPT_WITH_CUDA_KERNELS
  launch_add_norm_forward_cuda(a, device);
#else
  TORCH_CHECK(false, "add_layer_norm: this build has no fused kernels for ", device);
#endif
}

void run_backward(const kernels::AddNormBackward& a, const at::Device& device) {
  if (device.is_cpu()) return kernels::add_norm_backward_cpu(a);
#if VPT_WITH_CUDA_KERNELS
  launch_add_norm_backward_cuda(a, device);
#else
  TORCH_CHECK(false, "add_layer_norm: this build has no fused kernels for ", device);
#endif
}

// A custom Function's inputs must all be defined tensors: an absent r or rows is a 0-element one.
at::Tensor absent(const at::Tensor& like) { return at::empty({0}, like.options()); }
bool is_absent(const at::Tensor& t) { return t.dim() == 1 && t.numel() == 0; }

struct AddLayerNormFunction : public torch::autograd::Function<AddLayerNormFunction> {
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x_in, const at::Tensor& r_in,
                               const at::Tensor& rows_in, const at::Tensor& weight, const at::Tensor& bias,
                               int64_t rows_start, double eps, int64_t normed_dtype) {
    const at::Tensor x = x_in.contiguous();
    const at::Tensor r = is_absent(r_in) ? at::Tensor() : r_in.contiguous();
    const at::Tensor rows = is_absent(rows_in) ? at::Tensor() : rows_with_dense_planes(rows_in);
    const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
    const auto type = static_cast<at::ScalarType>(normed_dtype);
    at::Tensor sum = at::empty_like(x);
    at::Tensor normed = at::empty_like(x, x.options().dtype(type));
    at::Tensor mean = at::empty({B, T}, x.options());
    at::Tensor rstd = at::empty({B, T}, x.options());

    kernels::AddNormForward a;
    a.batch = B, a.tokens = T, a.dim = D;
    a.x = x.data_ptr<float>();
    if (r.defined()) {
      a.r = r.data_ptr();
      a.r_dtype = kernel_dtype(r.scalar_type());
    }
    if (rows.defined()) {
      a.rows = rows.data_ptr<float>();
      a.rows_start = rows_start;
      a.rows_count = rows.size(1);
      a.rows_batch_stride = rows.stride(0);
    }
    a.weight = weight.data_ptr<float>();
    a.bias = bias.data_ptr<float>();
    a.eps = static_cast<float>(eps);
    a.sum = sum.data_ptr<float>();
    a.normed = normed.data_ptr();
    a.normed_dtype = kernel_dtype(type);
    a.mean = mean.data_ptr<float>();
    a.rstd = rstd.data_ptr<float>();
    run_forward(a, x.device());

    ctx->set_materialize_grads(false);
    ctx->save_for_backward({sum, mean, rstd, weight});
    ctx->saved_data["rows_start"] = rows_start;
    ctx->saved_data["rows_count"] = rows.defined() ? rows.size(1) : int64_t{0};
    return {sum, normed};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor& sum = saved[0];
    const at::Tensor& mean = saved[1];
    const at::Tensor& rstd = saved[2];
    const at::Tensor& weight = saved[3];
    const at::Tensor g_sum = grads[0].defined() ? grads[0].to(at::kFloat).contiguous() : at::Tensor();
    at::Tensor g_normed = grads[1];
    if (g_normed.defined()) {
      g_normed = float_or_bf16(g_normed.scalar_type()) ? g_normed.contiguous() : g_normed.to(at::kFloat).contiguous();
    }
    const int64_t B = sum.size(0), T = sum.size(1), D = sum.size(2);
    const int64_t rows_count = ctx->saved_data["rows_count"].toInt();
    const bool need_in = ctx->needs_input_grad(0) || ctx->needs_input_grad(1);
    const bool need_rows = rows_count > 0 && ctx->needs_input_grad(2);

    at::Tensor grad_in = at::empty_like(sum);
    at::Tensor grad_rows = need_rows ? at::empty({B, rows_count, D}, sum.options()) : at::Tensor();
    if (need_in || need_rows) {
      kernels::AddNormBackward a;
      a.batch = B, a.tokens = T, a.dim = D;
      if (g_normed.defined()) {
        a.grad_normed = g_normed.data_ptr();
        a.grad_dtype = kernel_dtype(g_normed.scalar_type());
      }
      a.grad_sum = g_sum.defined() ? g_sum.data_ptr<float>() : nullptr;
      a.sum = sum.data_ptr<float>();
      a.mean = mean.data_ptr<float>();
      a.rstd = rstd.data_ptr<float>();
      a.weight = weight.data_ptr<float>();
      a.rows_start = ctx->saved_data["rows_start"].toInt();
      a.rows_count = rows_count;
      a.grad_in = grad_in.data_ptr<float>();
      a.grad_rows = need_rows ? grad_rows.data_ptr<float>() : nullptr;
      run_backward(a, sum.device());
    }

    // LayerNorm's own parameters (full fine-tuning only): dw = sum g_y * xhat, db = sum g_y.
    at::Tensor grad_weight, grad_bias;
    if (g_normed.defined() && (ctx->needs_input_grad(3) || ctx->needs_input_grad(4))) {
      const at::Tensor g = g_normed.to(at::kFloat);
      if (ctx->needs_input_grad(3)) {
        const at::Tensor xhat = (sum - mean.unsqueeze(-1)) * rstd.unsqueeze(-1);
        grad_weight = (g * xhat).sum({0, 1});
      }
      if (ctx->needs_input_grad(4)) grad_bias = g.sum({0, 1});
    }
    return {ctx->needs_input_grad(0) ? grad_in : at::Tensor(),
            ctx->needs_input_grad(1) ? grad_in : at::Tensor(),
            grad_rows,
            grad_weight,
            grad_bias,
            at::Tensor(),
            at::Tensor(),
            at::Tensor()};
  }
};

}  // namespace

bool add_layer_norm_fused_on(const at::Device& device) {
#if VPT_WITH_CUDA_KERNELS
  return device.is_cpu() || device.is_cuda();
#else
  return device.is_cpu();
#endif
}

AddNorm add_layer_norm_reference(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows, int64_t rows_start,
                                 const at::Tensor& weight, const at::Tensor& bias, double eps,
                                 at::ScalarType normed_dtype) {
  at::Tensor sum = r.defined() ? x + r : x;
  if (rows.defined()) {
    const int64_t n = rows.size(1), T = sum.size(1);
    sum = at::cat({sum.narrow(1, 0, rows_start), rows, sum.narrow(1, rows_start + n, T - rows_start - n)}, 1);
  }
  at::Tensor normed = at::layer_norm(sum, {sum.size(2)}, weight, bias, eps);
  return {sum, normed.to(normed_dtype)};
}

bool add_layer_norm_uses_kernels(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows,
                                 const at::Tensor& weight, const at::Tensor& bias, at::ScalarType normed_dtype) {
  return add_layer_norm_fused_on(x.device()) && x.dim() == 3 && (x.is_cpu() || x.size(2) <= kernels::kCudaMaxDim) &&
         x.scalar_type() == at::kFloat && (r.defined() || rows.defined()) &&
         (!r.defined() || (float_or_bf16(r.scalar_type()) && r.sizes() == x.sizes())) &&
         (!rows.defined() || (rows.scalar_type() == at::kFloat && rows.dim() == 3 && rows.size(0) == x.size(0) &&
                              rows.size(2) == x.size(2))) &&
         weight.defined() && bias.defined() && weight.scalar_type() == at::kFloat && bias.scalar_type() == at::kFloat &&
         float_or_bf16(normed_dtype);
}

AddNorm add_layer_norm(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows, int64_t rows_start,
                       const at::Tensor& weight, const at::Tensor& bias, double eps, at::ScalarType normed_dtype) {
  if (!add_layer_norm_uses_kernels(x, r, rows, weight, bias, normed_dtype)) {
    return add_layer_norm_reference(x, r, rows, rows_start, weight, bias, eps, normed_dtype);
  }
  TORCH_CHECK(!rows.defined() || (rows_start >= 0 && rows_start + rows.size(1) <= x.size(1)), "add_layer_norm: rows [",
              rows_start, ", ", rows_start + (rows.defined() ? rows.size(1) : 0), ") outside ", x.size(1), " tokens");
  variable_list out = AddLayerNormFunction::apply(x, r.defined() ? r : absent(x), rows.defined() ? rows : absent(x),
                                                  weight.contiguous(), bias.contiguous(), rows_start, eps,
                                                  static_cast<int64_t>(normed_dtype));
  return {out[0], out[1]};
}

}  // namespace vpt
