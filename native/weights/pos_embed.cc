// pos_embed.cc — see pos_embed.h.
#include "weights/pos_embed.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "model/named_tensor.h"
#include "runtime/errors.h"

namespace vpt {

at::Tensor resample_pos_embed(const at::Tensor& pos_embed, int64_t num_prefix_tokens, int64_t new_grid,
                              PosEmbedInterpolation interpolation) {
  const int64_t D = pos_embed.size(2);
  const int64_t old_tokens = pos_embed.size(1) - num_prefix_tokens;
  const auto old_grid =
      static_cast<int64_t>(std::llround(std::sqrt(static_cast<double>(std::max<int64_t>(old_tokens, 0)))));
  if (old_tokens <= 0 || old_grid * old_grid != old_tokens) {
    throw Error(kErrWeights, "pos_embed " + shape_string(pos_embed.sizes()) + " has " + std::to_string(old_tokens) +
                                 " rows after its " + std::to_string(num_prefix_tokens) +
                                 " prefix-token rows, which is not a square grid of patches");
  }
  if (old_grid == new_grid) return pos_embed;
  // (1, g*g, D) -> (1, D, g, g) -> (1, D, new_grid, new_grid) -> (1, new_grid*new_grid, D)
  at::Tensor grid = pos_embed.narrow(1, num_prefix_tokens, old_tokens)
                        .reshape({1, old_grid, old_grid, D})
                        .permute({0, 3, 1, 2})
                        .to(at::kFloat);
  grid = interpolation == PosEmbedInterpolation::kBicubicAntialias
             ? at::_upsample_bicubic2d_aa(grid, {new_grid, new_grid}, /*align_corners=*/false)
             : at::upsample_bilinear2d(grid, {new_grid, new_grid},
                                       /*align_corners=*/interpolation == PosEmbedInterpolation::kBilinearAlignCorners);
  grid = grid.permute({0, 2, 3, 1}).reshape({1, new_grid * new_grid, D}).to(pos_embed.scalar_type());
  return at::cat({pos_embed.narrow(1, 0, num_prefix_tokens), grid}, 1).contiguous();
}

}  // namespace vpt
