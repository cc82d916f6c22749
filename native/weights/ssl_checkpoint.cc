// ssl_checkpoint.cc — see ssl_checkpoint.h.
#include "weights/ssl_checkpoint.h"

#include "runtime/errors.h"

namespace vpt {

TensorMap with_fresh_fc_norm(const TensorMap& checkpoint, int64_t embed_dim) {
  if (checkpoint.count("fc_norm.weight") || checkpoint.count("fc_norm.bias")) return checkpoint;
  TensorMap out = checkpoint;
  out.erase("norm.weight");
  out.erase("norm.bias");
  out["fc_norm.weight"] = at::ones({embed_dim}, at::kFloat);
  out["fc_norm.bias"] = at::zeros({embed_dim}, at::kFloat);
  return out;
}

at::Tensor mocov3_sincos_pos_embed(int64_t grid, int64_t dim, int64_t prefix, double temperature) {
  if (dim % 4 != 0 || grid < 1 || prefix < 0) {
    throw Error(kErrArgument,
                "MoCo v3's 2D sin-cos position embedding needs a width divisible by 4, got " + std::to_string(dim));
  }
  const int64_t quarter = dim / 4;
  const auto f32 = at::TensorOptions().dtype(at::kFloat);
  at::Tensor omega = 1.0 / at::pow(temperature, at::arange(quarter, f32) / static_cast<double>(quarter));
  at::Tensor m = at::arange(grid * grid, f32);
  at::Tensor rows = at::floor(m / static_cast<double>(grid));  // the patch's grid row
  at::Tensor cols = m - rows * static_cast<double>(grid);      // and column
  at::Tensor out_r = rows.unsqueeze(1) * omega.unsqueeze(0);   // (P, dim / 4)
  at::Tensor out_c = cols.unsqueeze(1) * omega.unsqueeze(0);
  at::Tensor patches = at::cat({at::sin(out_r), at::cos(out_r), at::sin(out_c), at::cos(out_c)}, 1);
  return at::cat({at::zeros({prefix, dim}, f32), patches}, 0).unsqueeze(0);
}

}  // namespace vpt
