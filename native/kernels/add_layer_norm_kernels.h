// add_layer_norm_kernels.h — the row kernels behind add_layer_norm.h, on raw pointers so the
// CUDA ones (add_layer_norm_kernels.cu) compile without ATen.
//
// Forward, for each row (b, t) of a (B, T, D) residual stream:
//   s = rows[b, t - start]      if start <= t < start + n   (prompt slots being replaced)
//     = x + r                   otherwise (r optional)
//   mean = avg(s); rstd = 1 / sqrt(avg((s - mean)^2) + eps)
//   y = (s - mean) * rstd * w + bias                          in fp32 or bf16
// Backward, with g_y (fp32 or bf16, optional) and g_s (fp32, optional) the output gradients:
//   xhat = (s - mean) * rstd;  d = g_y * w
//   g = rstd * (d - avg(d) - xhat * avg(d * xhat)) + g_s
//   g_in = g, zero on replaced rows;  g_rows = g on replaced rows
// All reductions accumulate in fp32.
#pragma once

#include <cstdint>

namespace vpt::kernels {

enum class Dtype : int { Float32, BFloat16 };

struct AddNormForward {
  int64_t batch = 0, tokens = 0, dim = 0;
  const float* x = nullptr;  // (B, T, D)
  const void* r = nullptr;   // (B, T, D) in r_dtype, or null
  Dtype r_dtype = Dtype::Float32;
  const float* rows = nullptr;  // (B, n, D) with batch stride rows_batch_stride (0: shared), or null
  int64_t rows_start = 0, rows_count = 0, rows_batch_stride = 0;
  const float* weight = nullptr;  // (D)
  const float* bias = nullptr;    // (D)
  float eps = 1e-6f;
  float* sum = nullptr;    // (B, T, D)
  void* normed = nullptr;  // (B, T, D) in normed_dtype
  Dtype normed_dtype = Dtype::Float32;
  float* mean = nullptr;  // (B * T)
  float* rstd = nullptr;  // (B * T)
};

struct AddNormBackward {
  int64_t batch = 0, tokens = 0, dim = 0;
  const void* grad_normed = nullptr;  // (B, T, D) in grad_dtype, or null (zero)
  Dtype grad_dtype = Dtype::Float32;
  const float* grad_sum = nullptr;  // (B, T, D), or null (zero)
  const float* sum = nullptr;       // saved s
  const float* mean = nullptr;
  const float* rstd = nullptr;
  const float* weight = nullptr;
  int64_t rows_start = 0, rows_count = 0;
  float* grad_in = nullptr;    // (B, T, D): the gradient of x and of r
  float* grad_rows = nullptr;  // (B, n, D) contiguous, or null when the rows need no gradient
};

void add_norm_forward_cpu(const AddNormForward& a);
void add_norm_backward_cpu(const AddNormBackward& a);

// The widest row the CUDA kernels hold in registers (one warp per row, 48 values a lane).
constexpr int64_t kCudaMaxDim = 32 * 48;

// Launch on `stream` (a cudaStream_t); the caller checks dim <= kCudaMaxDim. Returns the
// launch's cudaError_t as an int (0 on success).
int add_norm_forward_cuda(const AddNormForward& a, void* stream);
int add_norm_backward_cuda(const AddNormBackward& a, void* stream);

}  // namespace vpt::kernels
