// google_layout.cc — see google_layout.h. Shapes: D width, H heads, hd = D / H, p patch,
// C input channels, M MLP hidden width.
#include "weights/google_layout.h"

#include <functional>
#include <set>
#include <sstream>

#include "model/fit_report.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

constexpr int64_t kAnySize = -1;  // a dimension the rule does not fix (pos-embed tokens)

struct Source {
  std::string key;
  std::vector<int64_t> shape;
};

// One timm tensor made from one or more Google arrays.
struct Rule {
  std::string target;
  std::vector<Source> sources;
  std::function<at::Tensor(const std::vector<at::Tensor>&)> convert;
};

at::Tensor as_is(const std::vector<at::Tensor>& s) { return s[0]; }
// Dense kernel (in, out) -> Linear weight (out, in).
at::Tensor dense(const std::vector<at::Tensor>& s) { return s[0].t(); }
// Conv kernel (p, p, C, D) -> (D, C, p, p).
at::Tensor conv(const std::vector<at::Tensor>& s) { return s[0].permute({3, 2, 0, 1}); }
// query/key/value kernels, each (D, H, hd) -> one (3D, D) weight with rows [q | k | v].
at::Tensor qkv_kernel(const std::vector<at::Tensor>& s) {
  return at::cat({s[0].flatten(1).t(), s[1].flatten(1).t(), s[2].flatten(1).t()}, 0);
}
// query/key/value biases, each (H, hd) -> (3D).
at::Tensor qkv_bias(const std::vector<at::Tensor>& s) {
  return at::cat({s[0].flatten(), s[1].flatten(), s[2].flatten()});
}
// Attention output kernel (H, hd, D) -> (D, H*hd).
at::Tensor out_kernel(const std::vector<at::Tensor>& s) { return s[0].flatten(0, 1).t(); }

std::string shape_pattern(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    s += (i ? ", " : "") + (shape[i] == kAnySize ? std::string("*") : std::to_string(shape[i]));
  }
  return s + "]";
}

bool fits(const at::Tensor& t, const std::vector<int64_t>& shape) {
  if (t.dim() != static_cast<int64_t>(shape.size())) return false;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] != kAnySize && t.size(static_cast<int64_t>(i)) != shape[i]) return false;
  }
  return true;
}

std::vector<Rule> rules_for(const VitConfig& c, bool big_vision) {
  const int64_t D = c.embed_dim, H = c.num_heads, hd = c.head_dim(), p = c.patch_size, C = c.in_chans;
  const int64_t M = c.mlp_hidden();
  std::vector<Rule> rules = {
      {"patch_embed.proj.weight", {{"embedding/kernel", {p, p, C, D}}}, conv},
      {"patch_embed.proj.bias", {{"embedding/bias", {D}}}, as_is},
      {"pos_embed",
       {{big_vision ? "pos_embedding" : "Transformer/posembed_input/pos_embedding", {1, kAnySize, D}}},
       as_is},
  };
  if (c.class_token) rules.push_back({"cls_token", {{"cls", {1, 1, D}}}, as_is});
  // big_vision renumbered the sub-modules of a block.
  const std::string mha = big_vision ? "MultiHeadDotProductAttention_0/" : "MultiHeadDotProductAttention_1/";
  const std::string ln2 = big_vision ? "LayerNorm_1/" : "LayerNorm_2/";
  const std::string mlp = big_vision ? "MlpBlock_0/" : "MlpBlock_3/";
  for (int64_t i = 0; i < c.depth; ++i) {
    const std::string g = "Transformer/encoderblock_" + std::to_string(i) + "/";
    const std::string t = "blocks." + std::to_string(i) + ".";
    const std::string a = g + mha;
    rules.push_back({t + "norm1.weight", {{g + "LayerNorm_0/scale", {D}}}, as_is});
    rules.push_back({t + "norm1.bias", {{g + "LayerNorm_0/bias", {D}}}, as_is});
    rules.push_back(
        {t + "attn.qkv.weight",
         {{a + "query/kernel", {D, H, hd}}, {a + "key/kernel", {D, H, hd}}, {a + "value/kernel", {D, H, hd}}},
         qkv_kernel});
    if (c.qkv_bias) {
      rules.push_back({t + "attn.qkv.bias",
                       {{a + "query/bias", {H, hd}}, {a + "key/bias", {H, hd}}, {a + "value/bias", {H, hd}}},
                       qkv_bias});
    }
    rules.push_back({t + "attn.proj.weight", {{a + "out/kernel", {H, hd, D}}}, out_kernel});
    rules.push_back({t + "attn.proj.bias", {{a + "out/bias", {D}}}, as_is});
    rules.push_back({t + "norm2.weight", {{g + ln2 + "scale", {D}}}, as_is});
    rules.push_back({t + "norm2.bias", {{g + ln2 + "bias", {D}}}, as_is});
    rules.push_back({t + "mlp.fc1.weight", {{g + mlp + "Dense_0/kernel", {D, M}}}, dense});
    rules.push_back({t + "mlp.fc1.bias", {{g + mlp + "Dense_0/bias", {M}}}, as_is});
    rules.push_back({t + "mlp.fc2.weight", {{g + mlp + "Dense_1/kernel", {M, D}}}, dense});
    rules.push_back({t + "mlp.fc2.bias", {{g + mlp + "Dense_1/bias", {D}}}, as_is});
  }
  if (!c.fc_norm) {
    rules.push_back({"norm.weight", {{"Transformer/encoder_norm/scale", {D}}}, as_is});
    rules.push_back({"norm.bias", {{"Transformer/encoder_norm/bias", {D}}}, as_is});
  }
  return rules;
}

// timm tensors of a model of `c` that no Google checkpoint holds.
std::vector<std::string> timm_only_tensors(const VitConfig& c) {
  std::vector<std::string> out;
  if (c.reg_tokens > 0) out.push_back("reg_token");
  for (int64_t i = 0; c.layer_scale && i < c.depth; ++i) {
    out.push_back("blocks." + std::to_string(i) + ".ls1.gamma");
    out.push_back("blocks." + std::to_string(i) + ".ls2.gamma");
  }
  if (c.fc_norm) {
    out.push_back("fc_norm.weight");
    out.push_back("fc_norm.bias");
  }
  return out;
}

}  // namespace

bool is_google_layout(const TensorMap& checkpoint) { return checkpoint.count("embedding/kernel") > 0; }

TensorMap from_google_layout(const TensorMap& checkpoint, const VitConfig& config) {
  if (checkpoint.count("Transformer/encoderblock/LayerNorm_0/scale")) {
    throw Error(kErrWeights,
                "the Google checkpoint stacks its encoder blocks (Transformer/encoderblock/..., a scanned "
                "big_vision layout); vpt-native reads per-block keys (Transformer/encoderblock_{i}/...)");
  }
  const bool big_vision =
      checkpoint.count("pos_embedding") > 0 ||
      checkpoint.count("Transformer/encoderblock_0/MultiHeadDotProductAttention_0/query/kernel") > 0;
  const std::vector<Rule> rules = rules_for(config, big_vision);

  std::set<std::string> used;
  FitReport report;
  auto& [missing, misshaped, unexpected] = report;
  for (const auto& rule : rules) {
    for (const auto& s : rule.sources) {
      used.insert(s.key);
      auto it = checkpoint.find(s.key);
      if (it == checkpoint.end()) {
        missing.push_back(s.key);
      } else if (!fits(it->second, s.shape)) {
        misshaped.push_back(s.key + " " + shape_string(it->second.sizes()) + " (model needs " + shape_pattern(s.shape) +
                            ")");
      }
    }
  }
  for (const auto& name : timm_only_tensors(config)) missing.push_back(name + " (timm-only, no Google equivalent)");
  for (const auto& [key, tensor] : checkpoint) {
    if (!used.count(key)) unexpected.push_back(key);
  }
  report.throw_if_any(kErrWeights, std::string("the Google (") + (big_vision ? "big_vision" : "vision_transformer") +
                                       " layout) weights do not fit the model");

  TensorMap out;
  for (const auto& rule : rules) {
    std::vector<at::Tensor> sources;
    for (const auto& s : rule.sources) sources.push_back(checkpoint.at(s.key));
    out[rule.target] = rule.convert(sources).contiguous();
  }
  return out;
}

}  // namespace vpt
