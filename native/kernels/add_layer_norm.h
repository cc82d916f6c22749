// add_layer_norm.h — a residual add fused with the LayerNorm after it, and (VPT-deep) with the
// prompt insertion before it.
//
// In a pre-norm ViT every residual add `s = x + r` is followed by `LayerNorm(s)`, and VPT-deep
// then also overwrites the prompt slots of `s` before the next block. Done one op at a time
// that is an add, a concatenation, a LayerNorm and (under autocast) a cast to bf16, each a
// full pass over the (B, T, D) residual stream, and as many again in the backward pass. The
// fused op reads x and r once and writes s and LayerNorm(s) once; its backward reads the two
// output gradients once and writes one input gradient (add_layer_norm_kernels.h).
#pragma once

#include <ATen/ATen.h>

namespace vpt {

struct AddNorm {
  at::Tensor sum;     // (B, T, D) fp32: the residual stream after the add (and insertion)
  at::Tensor normed;  // (B, T, D) in the requested dtype: LayerNorm(sum)
};

// sum = x + r, with rows [rows_start, rows_start + n) of every sample replaced by `rows`
// (B, n, D); normed = layer_norm(sum, weight, bias, eps) in `normed_dtype`. x fp32 (B, T, D);
// r (B, T, D) fp32 or bf16, or undefined; rows fp32 or undefined; weight and bias fp32 (D).
// Differentiable in every tensor. Runs the fused kernels where they apply (CPU; CUDA builds
// with the kernels compiled) and add_layer_norm_reference otherwise.
AddNorm add_layer_norm(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows, int64_t rows_start,
                       const at::Tensor& weight, const at::Tensor& bias, double eps, at::ScalarType normed_dtype);

// The same from ATen ops (add, cat, layer_norm, cast): what the kernels are tested against.
AddNorm add_layer_norm_reference(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows, int64_t rows_start,
                                 const at::Tensor& weight, const at::Tensor& bias, double eps,
                                 at::ScalarType normed_dtype);

// Whether this build has fused kernels for `device` (all CPU builds; CUDA builds compiled with
// them); add_layer_norm_uses_kernels also checks the width.
bool add_layer_norm_fused_on(const at::Device& device);
// Whether add_layer_norm runs its kernels for these arguments, rather than the reference.
bool add_layer_norm_uses_kernels(const at::Tensor& x, const at::Tensor& r, const at::Tensor& rows,
                                 const at::Tensor& weight, const at::Tensor& bias, at::ScalarType normed_dtype);

}  // namespace vpt
