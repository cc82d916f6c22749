// rope.cc — see rope.h.
#include "model/rope.h"

#include <cmath>

namespace vpt {

std::pair<at::Tensor, at::Tensor> rope_tables(int64_t grid, int64_t head_dim, double ref_grid, double temperature) {
  const int64_t num_bands = head_dim / 4;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  // timm freq_bands(step=1): 1 / temperature ** (arange(num_bands) / num_bands)
  at::Tensor bands = at::arange(num_bands, f32).div(static_cast<double>(num_bands));
  bands = at::pow(temperature, bands).reciprocal();
  at::Tensor t = at::arange(grid, f32);
  if (ref_grid > 0) t = t / static_cast<double>(grid) * ref_grid;
  // meshgrid 'ij': (g, g, 2) with [..., 0] = row (y), [..., 1] = column (x)
  std::vector<at::Tensor> mesh = at::meshgrid({t, t}, "ij");
  at::Tensor pos = at::stack({mesh[0], mesh[1]}, -1).unsqueeze(-1) * bands;  // (g, g, 2, nb)
  auto table = [&](const at::Tensor& v) { return v.reshape({grid * grid, -1}).repeat_interleave(2, -1); };
  return {table(pos.sin()), table(pos.cos())};
}

at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& sin, const at::Tensor& cos, int64_t start) {
  const int64_t n = x.size(2) - start;
  if (n <= 0) return x;
  at::Tensor p = x.narrow(2, start, n);
  at::Tensor pairs = p.unflatten(-1, {-1, 2});
  at::Tensor rot = at::stack({-pairs.select(-1, 1), pairs.select(-1, 0)}, -1).flatten(-2);
  at::Tensor out = (p * cos.narrow(0, 0, n) + rot * sin.narrow(0, 0, n)).to(x.scalar_type());
  return start == 0 ? out : at::cat({x.narrow(2, 0, start), out}, 2);
}

}  // namespace vpt
