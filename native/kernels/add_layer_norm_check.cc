// add_layer_norm_check.cc — see add_layer_norm_check.h.
#include "kernels/add_layer_norm_check.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/autograd.h>

#include <algorithm>

#include "kernels/add_layer_norm.h"
#include "model/prompted_vit.h"

namespace vpt {

namespace {

enum class Residual { None, Float, BFloat16 };
enum class Rows { None, Shared, PerSample };
enum class Grads { Both, SumOnly, NormedOnly };

struct Case {
  const char* name;
  int64_t dim;
  Residual residual;
  Rows rows;
  at::ScalarType normed;
  Grads grads;
  bool strided_x;
};

constexpr int64_t kBatch = 3, kTokens = 11, kRowsStart = 1, kRows = 4;
constexpr double kFloatTolerance = 1e-4;
constexpr double kBFloat16Tolerance = 1.0 / 128;  // two roundings of 8 mantissa bits apart

const Case kCases[] = {
    {"D=192, x + r, fp32", 192, Residual::Float, Rows::None, at::kFloat, Grads::Both, false},
    {"D=200 (a partly filled warp), fp32", 200, Residual::Float, Rows::None, at::kFloat, Grads::Both, false},
    {"D=768, bf16 r and output (autocast)", 768, Residual::BFloat16, Rows::None, at::kBFloat16, Grads::Both, false},
    {"D=768, bf16 r, fp32 output", 768, Residual::BFloat16, Rows::None, at::kFloat, Grads::Both, false},
    {"D=768, deep prompts shared over the batch", 768, Residual::BFloat16, Rows::Shared, at::kBFloat16, Grads::Both,
     false},
    {"D=384, prompts per sample (dropout)", 384, Residual::Float, Rows::PerSample, at::kFloat, Grads::Both, false},
    {"D=1000 (a partly filled register bucket), bf16", 1000, Residual::BFloat16, Rows::PerSample, at::kBFloat16,
     Grads::Both, false},
    {"D=1536 (the widest bucket)", 1536, Residual::Float, Rows::Shared, at::kFloat, Grads::Both, false},
    {"no r: prompts into x only", 192, Residual::None, Rows::Shared, at::kFloat, Grads::Both, false},
    {"only the sum's gradient", 192, Residual::Float, Rows::Shared, at::kFloat, Grads::SumOnly, false},
    {"only the normed output's gradient", 192, Residual::Float, Rows::Shared, at::kFloat, Grads::NormedOnly, false},
    {"strided x (the last block's CLS rows)", 192, Residual::Float, Rows::None, at::kFloat, Grads::Both, true},
};

// max |a - b| / max(1, |b|), both in fp32; 0 when neither is defined.
double max_rel_diff(const at::Tensor& a, const at::Tensor& b) {
  if (!a.defined() && !b.defined()) return 0;
  if (!a.defined() || !b.defined()) return INFINITY;
  const at::Tensor fa = a.detach().to(at::kCPU, at::kFloat), fb = b.detach().to(at::kCPU, at::kFloat);
  return ((fa - fb).abs() / fb.abs().clamp_min(1)).max().item<double>();
}

AddLayerNormCheck run_case(const Case& c, const at::Device& device, at::Generator& gen) {
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  auto randn = [&](c10::IntArrayRef shape, double scale, double shift) {
    return (at::randn(shape, gen, f32) * scale + shift).to(device);
  };
  const int64_t D = c.dim;
  // x has a mean and a spread unlike LayerNorm's output, so centring and scaling both matter.
  at::Tensor x_leaf = randn({kBatch, kTokens + (c.strided_x ? 3 : 0), D}, 2.0, 0.5).requires_grad_(true);
  at::Tensor x = c.strided_x ? x_leaf.narrow(1, 2, kTokens) : x_leaf;
  at::Tensor r_leaf;
  if (c.residual != Residual::None) {
    r_leaf = randn({kBatch, kTokens, D}, 1.0, 0.0)
                 .to(c.residual == Residual::BFloat16 ? at::kBFloat16 : at::kFloat)
                 .requires_grad_(true);
  }
  at::Tensor rows_leaf, rows;
  if (c.rows != Rows::None) {
    rows_leaf = randn({c.rows == Rows::Shared ? 1 : kBatch, kRows, D}, 1.5, -0.3).requires_grad_(true);
    rows = rows_leaf.expand({kBatch, kRows, D});
  }
  at::Tensor weight = randn({D}, 0.1, 1.0).requires_grad_(true);
  at::Tensor bias = randn({D}, 0.1, 0.0).requires_grad_(true);
  const at::Tensor g_sum = randn({kBatch, kTokens, D}, 1.0, 0.0);
  const at::Tensor g_normed = randn({kBatch, kTokens, D}, 1.0, 0.0).to(c.normed);

  std::vector<at::Tensor> inputs = {x_leaf, weight, bias};
  if (r_leaf.defined()) inputs.push_back(r_leaf);
  if (rows_leaf.defined()) inputs.push_back(rows_leaf);
  auto run = [&](const AddNorm& out) {
    std::vector<at::Tensor> outputs, grads;
    if (c.grads != Grads::NormedOnly) outputs.push_back(out.sum), grads.push_back(g_sum);
    if (c.grads != Grads::SumOnly) outputs.push_back(out.normed), grads.push_back(g_normed);
    std::vector<at::Tensor> g = torch::autograd::grad(outputs, inputs, grads, /*retain_graph=*/false,
                                                      /*create_graph=*/false, /*allow_unused=*/true);
    g.insert(g.begin(), {out.sum, out.normed});
    return g;  // sum, normed, d x, d weight, d bias, [d r], [d rows]
  };
  const constexpr double kEps = 1e-6;
  const std::vector<at::Tensor> fused = run(add_layer_norm(x, r_leaf, rows, kRowsStart, weight, bias, kEps, c.normed));
  const std::vector<at::Tensor> reference =
      run(add_layer_norm_reference(x, r_leaf, rows, kRowsStart, weight, bias, kEps, c.normed));

  AddLayerNormCheck out;
  out.name = c.name;
  out.tolerance = c.residual == Residual::BFloat16 || c.normed == at::kBFloat16 ? kBFloat16Tolerance : kFloatTolerance;
  out.fused = add_layer_norm_uses_kernels(x, r_leaf, rows, weight, bias, c.normed);
  out.sum = max_rel_diff(fused[0], reference[0]);
  out.normed = max_rel_diff(fused[1], reference[1]);
  out.grad_x = max_rel_diff(fused[2], reference[2]);
  out.grad_weight = max_rel_diff(fused[3], reference[3]);
  out.grad_bias = max_rel_diff(fused[4], reference[4]);
  size_t next = 5;
  if (r_leaf.defined()) out.grad_r = max_rel_diff(fused[next], reference[next]), ++next;
  if (rows_leaf.defined()) out.grad_rows = max_rel_diff(fused[next], reference[next]);
  return out;
}

}  // namespace

bool AddLayerNormCheck::ok() const {
  return fused && std::max({sum, normed, grad_x, grad_r, grad_rows, grad_weight, grad_bias}) <= tolerance;
}

std::vector<AddLayerNormCheck> check_add_layer_norm(const at::Device& device) {
  std::vector<AddLayerNormCheck> out;
  if (!add_layer_norm_fused_on(device)) return out;
  at::Generator gen = at::detail::createCPUGenerator(/*seed_in=*/20221023);
  for (const Case& c : kCases) out.push_back(run_case(c, device, gen));
  return out;
}

}  // namespace vpt
