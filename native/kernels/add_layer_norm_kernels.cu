// add_layer_norm_kernels.cu — the CUDA row kernels of add_layer_norm_kernels.h.
//
// One warp per row, kRowsPerBlock rows a block. Lane l holds elements l, l + 32, ... of its row
// in registers (kPer of them), so a row is read once and written once; the two reductions of
// each pass are warp shuffles. Loads are coalesced: the 32 lanes read 32 consecutive values.
#include <cuda_bf16.h>
#include <cuda_runtime.h>

#include <type_traits>

#include "kernels/add_layer_norm_kernels.h"

namespace vpt::kernels {

namespace {

constexpr int kWarp = 32;
constexpr int kRowsPerBlock = 4;

__device__ __forceinline__ float to_float(float v) { return v; }
__device__ __forceinline__ float to_float(__nv_bfloat16 v) { return __bfloat162float(v); }
__device__ __forceinline__ void store(float* p, float v) { *p = v; }
__device__ __forceinline__ void store(__nv_bfloat16* p, float v) { *p = __float2bfloat16_rn(v); }

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int offset = kWarp / 2; offset > 0; offset /= 2) v += __shfl_xor_sync(0xffffffffu, v, offset);
  return v;
}

template <int kPer, typename TR, typename TY>
__global__ void __launch_bounds__(kWarp* kRowsPerBlock) forward_kernel(AddNormForward a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= a.batch * a.tokens) return;  // whole warps exit together
  const int lane = threadIdx.x;
  const int64_t D = a.dim, b = row / a.tokens, t = row % a.tokens, off = row * D;
  const bool replaced = a.rows != nullptr && t >= a.rows_start && t < a.rows_start + a.rows_count;
  const float* src = replaced ? a.rows + b * a.rows_batch_stride + (t - a.rows_start) * D : nullptr;
  const TR* r = static_cast<const TR*>(a.r);

  float v[kPer];
  float total = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t i = lane + k * kWarp;
    v[k] = 0.0f;
    if (i < D) {
      v[k] = replaced ? src[i] : a.x[off + i] + (r != nullptr ? to_float(r[off + i]) : 0.0f);
      total += v[k];
    }
  }
  const float mean = warp_sum(total) / static_cast<float>(D);
  float squares = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t i = lane + k * kWarp;
    if (i < D) squares += (v[k] - mean) * (v[k] - mean);
  }
  const float rstd = rsqrtf(warp_sum(squares) / static_cast<float>(D) + a.eps);
  TY* normed = static_cast<TY*>(a.normed);
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t i = lane + k * kWarp;
    if (i < D) {
      a.sum[off + i] = v[k];
      store(normed + off + i, (v[k] - mean) * rstd * a.weight[i] + a.bias[i]);
    }
  }
  if (lane == 0) {
    a.mean[row] = mean;
    a.rstd[row] = rstd;
  }
}

template <int kPer, typename TG>
__global__ void __launch_bounds__(kWarp* kRowsPerBlock) backward_kernel(AddNormBackward a) {
  const int64_t row = static_cast<int64_t>(blockIdx.x) * kRowsPerBlock + threadIdx.y;
  if (row >= a.batch * a.tokens) return;
  const int lane = threadIdx.x;
  const int64_t D = a.dim, b = row / a.tokens, t = row % a.tokens, off = row * D;
  float* g = a.grad_in + off;
  if (t >= a.rows_start && t < a.rows_start + a.rows_count) {
    // The replaced slot's sum came from `rows`: x and r get nothing there.
    for (int64_t i = lane; i < D; i += kWarp) g[i] = 0.0f;
    if (a.grad_rows == nullptr) return;
    g = a.grad_rows + (b * a.rows_count + (t - a.rows_start)) * D;
  }
  const TG* g_y = static_cast<const TG*>(a.grad_normed);
  const float* g_s = a.grad_sum;
  if (g_y == nullptr) {
    for (int64_t i = lane; i < D; i += kWarp) g[i] = g_s != nullptr ? g_s[off + i] : 0.0f;
    return;
  }
  const float mean = a.mean[row], rstd = a.rstd[row];
  float d[kPer], xhat[kPer];
  float sum_d = 0.0f, sum_dx = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t i = lane + k * kWarp;
    d[k] = 0.0f;
    xhat[k] = 0.0f;
    if (i < D) {
      d[k] = to_float(g_y[off + i]) * a.weight[i];
      xhat[k] = (a.sum[off + i] - mean) * rstd;
      sum_d += d[k];
      sum_dx += d[k] * xhat[k];
    }
  }
  const float mean_d = warp_sum(sum_d) / static_cast<float>(D);
  const float mean_dx = warp_sum(sum_dx) / static_cast<float>(D);
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t i = lane + k * kWarp;
    if (i < D) g[i] = rstd * (d[k] - mean_d - xhat[k] * mean_dx) + (g_s != nullptr ? g_s[off + i] : 0.0f);
  }
}

dim3 grid_for(int64_t rows) { return dim3(static_cast<unsigned>((rows + kRowsPerBlock - 1) / kRowsPerBlock)); }

// Calls fn(std::integral_constant<int, kPer>) with the smallest register bucket holding D.
template <typename Fn>
void with_per_lane(int64_t dim, Fn fn) {
  const int64_t per = (dim + kWarp - 1) / kWarp;
  if (per <= 8)
    fn(std::integral_constant<int, 8>{});
  else if (per <= 16)
    fn(std::integral_constant<int, 16>{});
  else if (per <= 24)
    fn(std::integral_constant<int, 24>{});
  else if (per <= 32)
    fn(std::integral_constant<int, 32>{});
  else
    fn(std::integral_constant<int, kCudaMaxDim / kWarp>{});
}

}  // namespace

int add_norm_forward_cuda(const AddNormForward& a, void* stream) {
  const int64_t rows = a.batch * a.tokens;
  if (rows == 0) return 0;
  const bool r_bf16 = a.r != nullptr && a.r_dtype == Dtype::BFloat16;
  const bool y_bf16 = a.normed_dtype == Dtype::BFloat16;
  const dim3 block(kWarp, kRowsPerBlock);
  auto* s = static_cast<cudaStream_t>(stream);
  with_per_lane(a.dim, [&](auto per) {
    constexpr int kPer = decltype(per)::value;
    if (r_bf16 && y_bf16)
      forward_kernel<kPer, __nv_bfloat16, __nv_bfloat16><<<grid_for(rows), block, 0, s>>>(a);
    else if (r_bf16)
      forward_kernel<kPer, __nv_bfloat16, float><<<grid_for(rows), block, 0, s>>>(a);
    else if (y_bf16)
      forward_kernel<kPer, float, __nv_bfloat16><<<grid_for(rows), block, 0, s>>>(a);
    else
      forward_kernel<kPer, float, float><<<grid_for(rows), block, 0, s>>>(a);
  });
  return static_cast<int>(cudaGetLastError());
}

int add_norm_backward_cuda(const AddNormBackward& a, void* stream) {
  const int64_t rows = a.batch * a.tokens;
  if (rows == 0) return 0;
  const bool g_bf16 = a.grad_normed != nullptr && a.grad_dtype == Dtype::BFloat16;
  const dim3 block(kWarp, kRowsPerBlock);
  auto* s = static_cast<cudaStream_t>(stream);
  with_per_lane(a.dim, [&](auto per) {
    constexpr int kPer = decltype(per)::value;
    if (g_bf16)
      backward_kernel<kPer, __nv_bfloat16><<<grid_for(rows), block, 0, s>>>(a);
    else
      backward_kernel<kPer, float><<<grid_for(rows), block, 0, s>>>(a);
  });
  return static_cast<int>(cudaGetLastError());
}

}  // namespace vpt::kernels
