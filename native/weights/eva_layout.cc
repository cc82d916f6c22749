// eva_layout.cc — see eva_layout.h.
#include "weights/eva_layout.h"

#include <string>

namespace vpt {

bool is_eva_layout(const TensorMap& checkpoint) {
  return checkpoint.count("blocks.0.attn.q_proj.weight") > 0 || checkpoint.count("blocks.0.mlp.fc1_g.weight") > 0 ||
         checkpoint.count("blocks.0.attn.q_bias") > 0 || checkpoint.count("blocks.0.gamma_1") > 0;
}

TensorMap from_eva_layout(const TensorMap& checkpoint, int64_t depth) {
  TensorMap out = checkpoint;
  // A stored rotary table (rope.*, from a timm that kept it as a buffer) is recomputed for the
  // grid the model runs at (model/rope.h).
  for (auto it = out.begin(); it != out.end();) it = it->first.rfind("rope.", 0) == 0 ? out.erase(it) : std::next(it);
  auto take = [&](const std::string& name) {
    auto it = out.find(name);
    if (it == out.end()) return at::Tensor();
    at::Tensor t = it->second;
    out.erase(it);
    return t;
  };
  for (int64_t i = 0; i < depth; ++i) {
    const std::string pre = "blocks." + std::to_string(i) + ".";
    at::Tensor q = take(pre + "attn.q_proj.weight"), k = take(pre + "attn.k_proj.weight"),
               v = take(pre + "attn.v_proj.weight");
    at::Tensor qb = take(pre + "attn.q_proj.bias"), vb = take(pre + "attn.v_proj.bias");
    if (q.defined() && k.defined() && v.defined()) out[pre + "attn.qkv.weight"] = at::cat({q, k, v}, 0);
    if (!qb.defined()) qb = take(pre + "attn.q_bias");
    if (!vb.defined()) vb = take(pre + "attn.v_bias");
    if (qb.defined() && vb.defined()) out[pre + "attn.qkv.bias"] = at::cat({qb, at::zeros_like(qb), vb}, 0);
    at::Tensor g = take(pre + "mlp.fc1_g.weight"), x = take(pre + "mlp.fc1_x.weight");
    if (g.defined() && x.defined()) out[pre + "mlp.fc1.weight"] = at::cat({g, x}, 0);
    at::Tensor gb = take(pre + "mlp.fc1_g.bias"), xb = take(pre + "mlp.fc1_x.bias");
    if (gb.defined() && xb.defined()) out[pre + "mlp.fc1.bias"] = at::cat({gb, xb}, 0);
    for (int s = 1; s <= 2; ++s) {
      at::Tensor gamma = take(pre + "gamma_" + std::to_string(s));
      if (gamma.defined()) out[pre + "ls" + std::to_string(s) + ".gamma"] = gamma;
    }
  }
  return out;
}

}  // namespace vpt
