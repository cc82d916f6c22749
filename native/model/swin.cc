// swin.cc — see swin.h.
#include "model/swin.h"

#include <cmath>

#include "runtime/errors.h"

namespace vpt {

namespace {

// (B, H, W, C) -> (B * nW, w * w, C), windows image by image, row-major within an image.
at::Tensor partition(const at::Tensor& x, int64_t w) {
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  return x.reshape({B, H / w, w, W / w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({-1, w * w, C});
}

// partition's inverse: (B * nW, w * w, C) -> (B, H, W, C).
at::Tensor unpartition(const at::Tensor& windows, int64_t w, int64_t B, int64_t H, int64_t W) {
  const int64_t C = windows.size(-1);
  return windows.reshape({B, H / w, W / w, w, w, C}).permute({0, 1, 3, 2, 4, 5}).reshape({B, H, W, C});
}

}  // namespace

void check_swin_config(const SwinConfig& c) {
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(kErrArgument, "Swin: " + message);
  };
  require(c.stages() >= 1 && c.depths.size() == c.num_heads.size(),
          "depths and num_heads need one entry per stage (got " + std::to_string(c.depths.size()) + " and " +
              std::to_string(c.num_heads.size()) + ")");
  require(c.patch_size > 0 && c.img_size % c.patch_size == 0, "image size " + std::to_string(c.img_size) +
                                                                  " is not a multiple of the patch size " +
                                                                  std::to_string(c.patch_size));
  require(c.window_size > 0, "window size must be positive");
  const int64_t grid = c.img_size / c.patch_size;
  for (int64_t s = 0; s < c.stages(); ++s) {
    require(c.depths[s] >= 1 && c.num_heads[s] >= 1, "stage " + std::to_string(s) + " needs blocks and heads");
    require((grid >> s) << s == grid && (grid >> s) > 0,
            "image size " + std::to_string(c.img_size) + " gives a " + std::to_string(grid) +
                "-patch map that does not halve evenly through " + std::to_string(c.stages()) + " stages");
    require(c.resolution(s) % c.window(s) == 0, "stage " + std::to_string(s) + "'s " + std::to_string(c.resolution(s)) +
                                                    "x" + std::to_string(c.resolution(s)) +
                                                    " map is not tiled by window " + std::to_string(c.window(s)) +
                                                    " (choose an image size that is: 224 for window 7)");
    require(c.dim(s) % c.num_heads[s] == 0, "stage " + std::to_string(s) + "'s width " + std::to_string(c.dim(s)) +
                                                " is not divisible by its " + std::to_string(c.num_heads[s]) +
                                                " heads");
  }
}

SwinTransformer::SwinTransformer(const SwinConfig& config) : config_(config) {
  check_swin_config(config_);
  stages_.resize(static_cast<size_t>(config_.stages()));
  for (int64_t s = 0; s < config_.stages(); ++s) stages_[s].blocks.resize(static_cast<size_t>(config_.depths[s]));
}

bool SwinTransformer::is_recomputed_buffer(const std::string& name) {
  auto ends_with = [&](const std::string& suffix) {
    return name.size() >= suffix.size() && name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ends_with(".relative_position_index") || ends_with(".attn_mask");
}

NamedTensors SwinTransformer::named_tensors() {
  const auto& c = config_;
  const int64_t C0 = c.embed_dim;
  NamedTensors out{
      {"patch_embed.proj.weight", {C0, c.in_chans, c.patch_size, c.patch_size}, &patch_weight_},
      {"patch_embed.proj.bias", {C0}, &patch_bias_},
      {"patch_embed.norm.weight", {C0}, &patch_norm_weight_},
      {"patch_embed.norm.bias", {C0}, &patch_norm_bias_},
  };
  for (int64_t s = 0; s < c.stages(); ++s) {
    SwinStage& st = stages_[s];
    const std::string pre = "layers." + std::to_string(s) + ".";
    const int64_t C = c.dim(s);
    if (s > 0) {
      out.push_back({pre + "downsample.norm.weight", {2 * C}, &st.merge_norm_weight});
      out.push_back({pre + "downsample.norm.bias", {2 * C}, &st.merge_norm_bias});
      out.push_back({pre + "downsample.reduction.weight", {C, 2 * C}, &st.merge_reduction});
    }
    const int64_t w = c.window(s), M = static_cast<int64_t>(C * c.mlp_ratio);
    for (int64_t j = 0; j < c.depths[s]; ++j) {
      SwinBlock& b = st.blocks[j];
      const std::string bp = pre + "blocks." + std::to_string(j) + ".";
      out.push_back({bp + "norm1.weight", {C}, &b.norm1_weight});
      out.push_back({bp + "norm1.bias", {C}, &b.norm1_bias});
      out.push_back(
          {bp + "attn.relative_position_bias_table", {(2 * w - 1) * (2 * w - 1), c.num_heads[s]}, &b.bias_table});
      out.push_back({bp + "attn.qkv.weight", {3 * C, C}, &b.qkv_weight});
      out.push_back({bp + "attn.qkv.bias", {3 * C}, &b.qkv_bias});
      out.push_back({bp + "attn.proj.weight", {C, C}, &b.proj_weight});
      out.push_back({bp + "attn.proj.bias", {C}, &b.proj_bias});
      out.push_back({bp + "norm2.weight", {C}, &b.norm2_weight});
      out.push_back({bp + "norm2.bias", {C}, &b.norm2_bias});
      out.push_back({bp + "mlp.fc1.weight", {M, C}, &b.fc1_weight});
      out.push_back({bp + "mlp.fc1.bias", {M}, &b.fc1_bias});
      out.push_back({bp + "mlp.fc2.weight", {C, M}, &b.fc2_weight});
      out.push_back({bp + "mlp.fc2.bias", {C}, &b.fc2_bias});
    }
  }
  out.push_back({"norm.weight", {c.num_features()}, &norm_weight_});
  out.push_back({"norm.bias", {c.num_features()}, &norm_bias_});
  return out;
}

at::Tensor SwinTransformer::layer_norm(const at::Tensor& x, const at::Tensor& w, const at::Tensor& b) const {
  return at::layer_norm(x, {x.size(-1)}, w, b, config_.norm_eps);
}

at::Tensor SwinTransformer::embed(const at::Tensor& images) const {
  at::Tensor x = at::conv2d(images, patch_weight_, patch_bias_, {config_.patch_size, config_.patch_size});
  return layer_norm(x.permute({0, 2, 3, 1}), patch_norm_weight_, patch_norm_bias_);
}

SwinStream SwinTransformer::merge(int64_t stage, const SwinStream& s) const {
  const SwinStage& st = stages_[stage];
  const at::Tensor& x = s.x;
  const int64_t B = x.size(0), H = x.size(1), W = x.size(2), C = x.size(3);
  // Channels ordered (row 0 col 0, row 1 col 0, row 0 col 1, row 1 col 1), as timm's reshape.
  at::Tensor m = x.reshape({B, H / 2, 2, W / 2, 2, C}).permute({0, 1, 3, 4, 2, 5}).reshape({B, H / 2, W / 2, 4 * C});
  SwinStream out;
  out.x = at::linear(layer_norm(m, st.merge_norm_weight, st.merge_norm_bias), st.merge_reduction);
  if (s.prompts.defined()) {
    at::Tensor p = at::cat({s.prompts, s.prompts, s.prompts, s.prompts}, -1);
    out.prompts = at::linear(layer_norm(p, st.merge_norm_weight, st.merge_norm_bias), st.merge_reduction);
  }
  return out;
}

at::Tensor SwinTransformer::position_bias(const SwinBlock& b, int64_t w, int64_t prompts) const {
  // index[i, j] = (dy + w - 1) * (2w - 1) + (dx + w - 1) for window positions i, j.
  const auto opts = at::TensorOptions().dtype(at::kLong).device(b.bias_table.device());
  const at::Tensor r = at::arange(w, opts);
  const at::Tensor ys = r.repeat_interleave(w), xs = r.repeat({w});
  const at::Tensor index =
      (ys.unsqueeze(1) - ys.unsqueeze(0) + (w - 1)) * (2 * w - 1) + (xs.unsqueeze(1) - xs.unsqueeze(0) + (w - 1));
  at::Tensor bias = b.bias_table.index_select(0, index.reshape({-1})).reshape({w * w, w * w, -1}).permute({2, 0, 1});
  if (prompts > 0) bias = at::constant_pad_nd(bias, {prompts, 0, prompts, 0}, 0.0);
  return bias;
}

at::Tensor SwinTransformer::shift_mask(int64_t stage, int64_t prompts, const at::Device& device) const {
  const int64_t R = config_.resolution(stage), w = config_.window(stage), sh = config_.window_size / 2;
  // Region ids of the rolled map: 3 bands per axis ([0, R - w), [R - w, R - sh), [R - sh, R)).
  auto band = [&](int64_t i) -> int64_t { return i < R - w ? 0 : (i < R - sh ? 1 : 2); };
  at::Tensor ids = at::empty({1, R, R, 1}, at::kFloat);
  auto a = ids.accessor<float, 4>();
  for (int64_t y = 0; y < R; ++y)
    for (int64_t x = 0; x < R; ++x) a[0][y][x][0] = static_cast<float>(band(y) * 3 + band(x));
  const at::Tensor win = partition(ids, w).squeeze(-1);  // (nW, w * w)
  at::Tensor mask = (win.unsqueeze(1) - win.unsqueeze(2)).ne(0).to(at::kFloat) * -100.0;
  if (prompts > 0) mask = at::constant_pad_nd(mask, {prompts, 0, prompts, 0}, 0.0);
  return mask.to(device);
}

std::pair<at::Tensor, at::Tensor> SwinTransformer::window_attention(int64_t stage, int64_t block, const at::Tensor& h,
                                                                    const at::Tensor& hp) const {
  const SwinBlock& b = stages_[stage].blocks[block];
  const int64_t B = h.size(0), H = h.size(1), W = h.size(2), C = h.size(3);
  const int64_t w = config_.window(stage), shift = config_.shift(stage, block), heads = config_.num_heads[stage];
  const int64_t N = hp.defined() ? hp.size(1) : 0;
  const at::Tensor shifted = shift > 0 ? at::roll(h, {-shift, -shift}, {1, 2}) : h;
  at::Tensor tokens = partition(shifted, w);  // (B nW, w^2, C)
  const int64_t nW = tokens.size(0) / B;
  if (N > 0) {
    // Every window of an image gets that image's prompt rows in front.
    at::Tensor p = hp.unsqueeze(1).expand({B, nW, N, C}).reshape({B * nW, N, C});
    tokens = at::cat({p, tokens}, 1);
  }
  const int64_t T = tokens.size(1), hd = C / heads;
  const at::Tensor qkv =
      at::linear(tokens, b.qkv_weight, b.qkv_bias).reshape({B * nW, T, 3, heads, hd}).permute({2, 0, 3, 1, 4});
  const at::Tensor q = qkv[0] * (1.0 / std::sqrt(static_cast<double>(hd))), k = qkv[1], v = qkv[2];
  at::Tensor attn = at::matmul(q, k.transpose(-2, -1)) + position_bias(b, w, N).to(q.scalar_type()).unsqueeze(0);
  if (shift > 0) {
    const at::Tensor mask = shift_mask(stage, N, h.device()).to(q.scalar_type());
    attn = (attn.reshape({B, nW, heads, T, T}) + mask.unsqueeze(1).unsqueeze(0)).reshape({B * nW, heads, T, T});
  }
  attn = at::softmax(attn, -1);
  at::Tensor out = at::matmul(attn, v).transpose(1, 2).reshape({B * nW, T, C});
  out = at::linear(out, b.proj_weight, b.proj_bias);
  at::Tensor po;
  if (N > 0) {
    po = out.narrow(1, 0, N).reshape({B, nW, N, C}).mean(1);  // the image's windows' average
    out = out.narrow(1, N, T - N);
  }
  at::Tensor x = unpartition(out, w, B, H, W);
  if (shift > 0) x = at::roll(x, {shift, shift}, {1, 2});
  return {x, po};
}

SwinStream SwinTransformer::block_forward(int64_t stage, int64_t block, const SwinStream& s) const {
  const SwinBlock& b = stages_[stage].blocks[block];
  const bool prompted = s.prompts.defined();
  const at::Tensor h = layer_norm(s.x, b.norm1_weight, b.norm1_bias);
  const at::Tensor hp = prompted ? layer_norm(s.prompts, b.norm1_weight, b.norm1_bias) : at::Tensor();
  auto [ax, ap] = window_attention(stage, block, h, hp);
  auto mlp = [&](const at::Tensor& t) {
    const at::Tensor u = layer_norm(t, b.norm2_weight, b.norm2_bias);
    return at::linear(at::gelu(at::linear(u, b.fc1_weight, b.fc1_bias)), b.fc2_weight, b.fc2_bias);
  };
  SwinStream out;
  out.x = s.x + ax;
  out.x = out.x + mlp(out.x);
  if (prompted) {
    out.prompts = s.prompts + ap;
    out.prompts = out.prompts + mlp(out.prompts);
  }
  return out;
}

at::Tensor SwinTransformer::pool(const SwinStream& s) const {
  const int64_t B = s.x.size(0), C = s.x.size(3);
  at::Tensor tokens = s.x.reshape({B, -1, C});
  if (s.prompts.defined()) tokens = at::cat({s.prompts, tokens}, 1);
  return layer_norm(tokens, norm_weight_, norm_bias_).mean(1);
}

}  // namespace vpt
