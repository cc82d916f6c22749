// rope.h — timm's rotary position embedding for EVA-02 (RotaryEmbeddingCat with in_pixels=False:
// build_rotary_pos_embed + apply_rot_embed_cat, interleaved pairs). It rotates the queries and
// keys of the patch tokens only; prefix tokens and prompts take none (timm's num_prefix_tokens).
#pragma once

#include <ATen/ATen.h>

#include <utility>

namespace vpt {

// {sin, cos}, each (grid * grid, head_dim): band j of num_bands = head_dim / 4 is
// temperature^(-j / num_bands); position t along an axis is t / grid * ref_grid (ref_grid 0:
// t itself); a row is [y bands | x bands], each value repeated twice (interleaved pairs).
std::pair<at::Tensor, at::Tensor> rope_tables(int64_t grid, int64_t head_dim, double ref_grid, double temperature);

// x (B, H, n, hd) with its rows [start, n) rotated by table rows [0, n - start):
// x * cos + rot(x) * sin, rot(x) = [-x1, x0, -x3, x2, ...]. Rows before `start` are unchanged.
at::Tensor apply_rope(const at::Tensor& x, const at::Tensor& sin, const at::Tensor& cos, int64_t start);

}  // namespace vpt
