// add_layer_norm_cpu.cc — the CPU row kernels of add_layer_norm_kernels.h: rows in parallel
// (ATen's intra-op pool), each row in three passes over D values that stay in cache.
#include <ATen/Parallel.h>
#include <c10/util/BFloat16.h>

#include <cmath>

#include "kernels/add_layer_norm_kernels.h"

namespace vpt::kernels {

namespace {

// The row loops compiled once per ISA and picked at load time (GCC/Clang function
// multiversioning): the addon itself is built for baseline x86-64, which would leave them
// 4 floats wide where ATen's own kernels run AVX2 or AVX-512.
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
#define VPT_ROW_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VPT_ROW_CLONES
#endif
#define VPT_INLINE inline __attribute__((always_inline))

// Rows per parallel task: enough work to amortise the task, small enough to spread B*T rows.
constexpr int64_t kGrainRows = 16;

template <typename T>
VPT_INLINE float load(const T* p, int64_t i) {
  return static_cast<float>(p[i]);
}

template <typename T>
VPT_INLINE void store(T* p, int64_t i, float v) {
  p[i] = static_cast<T>(v);  // c10::BFloat16 rounds to nearest even
}

// Eight independent partial sums so the loop vectorises without reassociating a single chain.
VPT_INLINE float row_sum(const float* v, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) part[k] += v[i + k];
  }
  float total = 0;
  for (; i < n; ++i) total += v[i];
  for (float p : part) total += p;
  return total;
}

VPT_INLINE float row_centered_squares(const float* v, float mean, int64_t n) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int k = 0; k < 8; ++k) {
      const float d = v[i + k] - mean;
      part[k] += d * d;
    }
  }
  float total = 0;
  for (; i < n; ++i) total += (v[i] - mean) * (v[i] - mean);
  for (float p : part) total += p;
  return total;
}

template <typename TR, typename TY>
VPT_INLINE void forward_rows(const AddNormForward& a, int64_t begin, int64_t end) {
  const int64_t D = a.dim;
  const auto* r = static_cast<const TR*>(a.r);
  auto* normed = static_cast<TY*>(a.normed);
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / a.tokens, t = row % a.tokens, off = row * D;
    float* s = a.sum + off;
    if (a.rows != nullptr && t >= a.rows_start && t < a.rows_start + a.rows_count) {
      const float* src = a.rows + b * a.rows_batch_stride + (t - a.rows_start) * D;
      for (int64_t i = 0; i < D; ++i) s[i] = src[i];
    } else if (r != nullptr) {
      for (int64_t i = 0; i < D; ++i) s[i] = a.x[off + i] + load(r, off + i);
    } else {
      for (int64_t i = 0; i < D; ++i) s[i] = a.x[off + i];
    }
    const float mean = row_sum(s, D) / static_cast<float>(D);
    const float rstd = 1.0f / std::sqrt(row_centered_squares(s, mean, D) / static_cast<float>(D) + a.eps);
    for (int64_t i = 0; i < D; ++i) store(normed, off + i, (s[i] - mean) * rstd * a.weight[i] + a.bias[i]);
    a.mean[row] = mean;
    a.rstd[row] = rstd;
  }
}

template <typename TG>
VPT_INLINE void backward_rows(const AddNormBackward& a, int64_t begin, int64_t end) {
  const int64_t D = a.dim;
  const auto* g_y = static_cast<const TG*>(a.grad_normed);
  const float inv_d = 1.0f / static_cast<float>(D);
  for (int64_t row = begin; row < end; ++row) {
    const int64_t b = row / a.tokens, t = row % a.tokens, off = row * D;
    float* g = a.grad_in + off;
    if (t >= a.rows_start && t < a.rows_start + a.rows_count) {
      // The replaced slot's sum came from `rows`: x and r get nothing there.
      for (int64_t i = 0; i < D; ++i) g[i] = 0.0f;
      if (a.grad_rows == nullptr) continue;
      g = a.grad_rows + (b * a.rows_count + (t - a.rows_start)) * D;
    }
    if (g_y != nullptr) {
      const float mean = a.mean[row], rstd = a.rstd[row];
      const float* s = a.sum + off;
      float sum_d = 0, sum_dx = 0;
      for (int64_t i = 0; i < D; ++i) {
        const float d = load(g_y, off + i) * a.weight[i];
        sum_d += d;
        sum_dx += d * (s[i] - mean) * rstd;
      }
      const float mean_d = sum_d * inv_d, mean_dx = sum_dx * inv_d;
      for (int64_t i = 0; i < D; ++i) {
        const float d = load(g_y, off + i) * a.weight[i];
        const float xhat = (s[i] - mean) * rstd;
        g[i] = rstd * (d - mean_d - xhat * mean_dx) + (a.grad_sum != nullptr ? a.grad_sum[off + i] : 0.0f);
      }
    } else {
      for (int64_t i = 0; i < D; ++i) g[i] = a.grad_sum != nullptr ? a.grad_sum[off + i] : 0.0f;
    }
  }
}

// One clone set per dtype combination.
VPT_ROW_CLONES void forward_f32_f32(const AddNormForward& a, int64_t b, int64_t e) {
  forward_rows<float, float>(a, b, e);
}
VPT_ROW_CLONES void forward_f32_bf16(const AddNormForward& a, int64_t b, int64_t e) {
  forward_rows<float, c10::BFloat16>(a, b, e);
}
VPT_ROW_CLONES void forward_bf16_f32(const AddNormForward& a, int64_t b, int64_t e) {
  forward_rows<c10::BFloat16, float>(a, b, e);
}
VPT_ROW_CLONES void forward_bf16_bf16(const AddNormForward& a, int64_t b, int64_t e) {
  forward_rows<c10::BFloat16, c10::BFloat16>(a, b, e);
}
VPT_ROW_CLONES void backward_f32(const AddNormBackward& a, int64_t b, int64_t e) { backward_rows<float>(a, b, e); }
VPT_ROW_CLONES void backward_bf16(const AddNormBackward& a, int64_t b, int64_t e) {
  backward_rows<c10::BFloat16>(a, b, e);
}

template <typename Fn>
void for_rows(int64_t rows, Fn fn) {
  at::parallel_for(0, rows, kGrainRows, fn);
}

}  // namespace

void add_norm_forward_cpu(const AddNormForward& a) {
  const bool r_bf16 = a.r != nullptr && a.r_dtype == Dtype::BFloat16;
  const bool y_bf16 = a.normed_dtype == Dtype::BFloat16;
  for_rows(a.batch * a.tokens, [&](int64_t begin, int64_t end) {
    if (r_bf16 && y_bf16)
      forward_bf16_bf16(a, begin, end);
    else if (r_bf16)
      forward_bf16_f32(a, begin, end);
    else if (y_bf16)
      forward_f32_bf16(a, begin, end);
    else
      forward_f32_f32(a, begin, end);
  });
}

void add_norm_backward_cpu(const AddNormBackward& a) {
  const bool g_bf16 = a.grad_normed != nullptr && a.grad_dtype == Dtype::BFloat16;
  for_rows(a.batch * a.tokens, [&](int64_t begin, int64_t end) {
    if (g_bf16)
      backward_bf16(a, begin, end);
    else
      backward_f32(a, begin, end);
  });
}

}  // namespace vpt::kernels
