// image_resample.cc — see image_resample.h.
#include "data/image_resample.h"

#include <algorithm>
#include <cmath>
#include <vector>

#if defined(__x86_64__) && defined(__GNUC__)
// The inner loops run about twice as fast with AVX2's 32-bit multiplies; the dynamic loader
// picks the clone the CPU supports.
#define VPT_VECTOR_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VPT_VECTOR_CLONES
#endif

namespace vpt {

namespace {

// Pillow's PRECISION_BITS: 32-bit sums hold 8 bits of pixel, 2 bits of headroom, 22 of fraction.
constexpr int kPrecisionBits = 32 - 8 - 2;
constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);

// The taps of one pass: output pixel i reads source pixels first[i] .. first[i] + count[i] - 1
// with fixed-point weights weights[i * max_taps + t].
struct Taps {
  int max_taps = 0;
  std::vector<int> first;
  std::vector<int> count;
  std::vector<int32_t> weights;
};

double triangle(double x) {
  x = std::fabs(x);
  return x < 1.0 ? 1.0 - x : 0.0;
}

// Pillow's bicubic_filter: Keys' cubic convolution with a = -0.5 (support 2).
double bicubic(double x) {
  constexpr double a = -0.5;
  x = std::fabs(x);
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

constexpr Filter kBilinear{triangle, 1.0};
constexpr Filter kBicubic{bicubic, 2.0};

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for `filter` and the whole source (box
// 0 .. in_size); the double arithmetic follows Pillow's order exactly.
Taps filter_taps(const Filter& filter, int in_size, int out_size) {
  const double scale = static_cast<double>(in_size) / out_size;
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter.support * filter_scale;
  Taps taps;
  taps.max_taps = static_cast<int>(std::ceil(support)) * 2 + 1;
  taps.first.resize(out_size);
  taps.count.resize(out_size);
  taps.weights.assign(static_cast<size_t>(out_size) * taps.max_taps, 0);
  std::vector<double> w(taps.max_taps);
  for (int i = 0; i < out_size; ++i) {
    const double center = (i + 0.5) * scale;
    const double inv_scale = 1.0 / filter_scale;
    const int lo = std::max(static_cast<int>(center - support + 0.5), 0);
    const int n = std::min(static_cast<int>(center + support + 0.5), in_size) - lo;
    double sum = 0.0;
    for (int t = 0; t < n; ++t) {
      w[t] = filter.fn((t + lo - center + 0.5) * inv_scale);
      sum += w[t];
    }
    int32_t* fixed = &taps.weights[static_cast<size_t>(i) * taps.max_taps];
    for (int t = 0; t < n; ++t) {
      const double k = sum != 0.0 ? w[t] / sum : w[t];
      fixed[t] = static_cast<int32_t>(k < 0 ? -0.5 + k * (1 << kPrecisionBits) : 0.5 + k * (1 << kPrecisionBits));
    }
    taps.first[i] = lo;
    taps.count[i] = n;
  }
  return taps;
}

inline uint8_t clip8(int32_t sum) { return static_cast<uint8_t>(std::clamp(sum >> kPrecisionBits, 0, 255)); }

// The taps of every output pixel as one fixed-length window of `n` source pixels that stays
// inside the row: the window starts earlier where needed and the extra taps weigh zero.
struct FixedTaps {
  int n = 0;
  std::vector<int> first;
  std::vector<int32_t> weights;  // (out_size, n)
};

FixedTaps fixed_taps(const Taps& taps, int in_size) {
  FixedTaps f;
  f.n = *std::max_element(taps.count.begin(), taps.count.end());
  const int out_size = static_cast<int>(taps.first.size());
  f.first.resize(out_size);
  f.weights.assign(static_cast<size_t>(out_size) * f.n, 0);
  for (int i = 0; i < out_size; ++i) {
    const int start = std::min(taps.first[i], in_size - f.n);
    f.first[i] = start;
    for (int t = 0; t < taps.count[i]; ++t) {
      f.weights[static_cast<size_t>(i) * f.n + taps.first[i] - start + t] =
          taps.weights[static_cast<size_t>(i) * taps.max_taps + t];
    }
  }
  return f;
}

// One row of the horizontal pass; N > 0 fixes the tap count so the compiler unrolls the taps,
// N = 0 reads it from `f`.
template <int N>
[[gnu::always_inline]] inline void resample_row(const uint8_t* in, const FixedTaps& f, uint8_t* out, int out_width) {
  const int n = N > 0 ? N : f.n;
  for (int x = 0; x < out_width; ++x) {
    const uint8_t* p = in + f.first[x] * 3;
    const int32_t* k = &f.weights[static_cast<size_t>(x) * n];
    int32_t r = kHalf, g = kHalf, b = kHalf;
    for (int t = 0; t < n; ++t) {
      r += p[3 * t] * k[t];
      g += p[3 * t + 1] * k[t];
      b += p[3 * t + 2] * k[t];
    }
    out[3 * x] = clip8(r);
    out[3 * x + 1] = clip8(g);
    out[3 * x + 2] = clip8(b);
  }
}

// (rows, width, 3) -> (rows, out_width, 3), reading source rows row0 .. row0 + rows - 1.
VPT_VECTOR_CLONES void resample_rows(const uint8_t* src, int width, int row0, int rows, const Taps& taps, uint8_t* dst,
                                     int out_width) {
  const FixedTaps f = fixed_taps(taps, width);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* in = src + static_cast<size_t>(row0 + y) * width * 3;
    uint8_t* out = dst + static_cast<size_t>(y) * out_width * 3;
    // Shrinking by s reads up to about 2s + 1 taps: 6 covers shrinking by up to 2.5x.
    switch (f.n) {
      case 1:
        resample_row<1>(in, f, out, out_width);
        break;
      case 2:
        resample_row<2>(in, f, out, out_width);
        break;
      case 3:
        resample_row<3>(in, f, out, out_width);
        break;
      case 4:
        resample_row<4>(in, f, out, out_width);
        break;
      case 5:
        resample_row<5>(in, f, out, out_width);
        break;
      case 6:
        resample_row<6>(in, f, out, out_width);
        break;
      default:
        resample_row<0>(in, f, out, out_width);
        break;
    }
  }
}

// (rows, width, 3) -> (out_height, width, 3); output row y reads source rows
// taps.first[y] - row0 onwards. Sums whole rows at once so the inner loop vectorizes.
VPT_VECTOR_CLONES void resample_columns(const uint8_t* src, int width, int row0, const Taps& taps, uint8_t* dst,
                                        int out_height) {
  const size_t row_bytes = static_cast<size_t>(width) * 3;
  std::vector<int32_t> sums(row_bytes);
  for (int y = 0; y < out_height; ++y) {
    std::fill(sums.begin(), sums.end(), kHalf);
    const int32_t* k = &taps.weights[static_cast<size_t>(y) * taps.max_taps];
    for (int t = 0; t < taps.count[y]; ++t) {
      const uint8_t* in = src + static_cast<size_t>(taps.first[y] - row0 + t) * row_bytes;
      const int32_t weight = k[t];
      for (size_t i = 0; i < row_bytes; ++i) sums[i] += in[i] * weight;
    }
    uint8_t* out = dst + static_cast<size_t>(y) * row_bytes;
    for (size_t i = 0; i < row_bytes; ++i) out[i] = clip8(sums[i]);
  }
}

// Pillow's ImagingResampleInner: the horizontal pass first, on only the source rows the
// vertical pass reads, then the vertical pass; a pass whose size does not change is skipped.
void resize_like_pil(const Filter& filter, const uint8_t* src, int width, int height, uint8_t* dst, int out_width,
                     int out_height) {
  const bool horizontal = out_width != width;
  const bool vertical = out_height != height;
  if (!horizontal && !vertical) {
    std::copy(src, src + static_cast<size_t>(width) * height * 3, dst);
    return;
  }
  const Taps rows = filter_taps(filter, height, out_height);
  if (!horizontal) {
    resample_columns(src, width, 0, rows, dst, out_height);
    return;
  }
  const Taps columns = filter_taps(filter, width, out_width);
  if (!vertical) {
    resample_rows(src, width, 0, height, columns, dst, out_width);
    return;
  }
  const int first_row = rows.first.front();
  const int end_row = rows.first.back() + rows.count.back();
  std::vector<uint8_t> narrow(static_cast<size_t>(end_row - first_row) * out_width * 3);
  resample_rows(src, width, first_row, end_row - first_row, columns, narrow.data(), out_width);
  resample_columns(narrow.data(), out_width, first_row, rows, dst, out_height);
}

}  // namespace

void resize_bilinear_like_pil(const uint8_t* src, int width, int height, uint8_t* dst, int out_width, int out_height) {
  resize_like_pil(kBilinear, src, width, height, dst, out_width, out_height);
}

void resize_bicubic_like_pil(const uint8_t* src, int width, int height, uint8_t* dst, int out_width, int out_height) {
  resize_like_pil(kBicubic, src, width, height, dst, out_width, out_height);
}

}  // namespace vpt
