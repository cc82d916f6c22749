// options_helper.cc — see options_helper.h.
#include "binding/options_helper.h"

#include "binding/js_args.h"
#include "model/block_variants.h"

namespace vpt {

ModelConfig parse_config(const Napi::Object& o) {
  ModelConfig c;
  Napi::Object v = o.Get("vit").As<Napi::Object>();
  c.vit.img_size = int_field(v, "imgSize");
  c.vit.patch_size = int_field(v, "patchSize");
  c.vit.in_chans = int_field(v, "inChans");
  c.vit.embed_dim = int_field(v, "embedDim");
  c.vit.depth = int_field(v, "depth");
  c.vit.num_heads = int_field(v, "numHeads");
  c.vit.mlp_ratio = number_field(v, "mlpRatio");
  c.vit.qkv_bias = bool_field(v, "qkvBias");
  c.vit.class_token = bool_field(v, "classToken");
  c.vit.reg_tokens = int_field(v, "regTokens");
  c.vit.no_embed_class = bool_field(v, "noEmbedClass");
  c.vit.layer_scale = bool_field(v, "layerScale");
  c.vit.global_pool = string_field(v, "globalPool");
  c.vit.fc_norm = bool_field(v, "fcNorm");
  c.vit.norm_eps = number_field(v, "normEps");
  // Absent (a config from before these fields): timm's defaults.
  if (!v.Get("act").IsUndefined()) c.vit.act = string_field(v, "act");
  require(is_mlp_activation(c.vit.act), "unknown activation '" + c.vit.act + "' (gelu, quick_gelu, gelu_tanh)");
  c.vit.pre_norm = !v.Get("preNorm").IsUndefined() && bool_field(v, "preNorm");
  c.vit.dist_token = !v.Get("distToken").IsUndefined() && bool_field(v, "distToken");
  auto flag = [&](const char* key) { return !v.Get(key).IsUndefined() && bool_field(v, key); };
  c.vit.eva = flag("eva");
  c.vit.swiglu = flag("swiglu");
  c.vit.mlp_norm = flag("mlpNorm");
  c.vit.rope = flag("rope");
  c.vit.fresh_fc_norm = flag("freshFcNorm");
  c.vit.sincos_pos_embed = flag("sincosPosEmbed");
  if (c.vit.rope) {
    c.vit.rope_ref_grid = number_field(v, "ropeRefGrid");
    c.vit.rope_temperature = number_field(v, "ropeTemperature");
  }
  require(c.vit.global_pool == "token" || c.vit.global_pool == "avg" || c.vit.global_pool == "map",
          "unknown global pool '" + c.vit.global_pool + "' (token, avg, map)");
  Napi::Value p = o.Get("prompt");
  if (p.IsObject()) {
    Napi::Object po = p.As<Napi::Object>();
    c.prompt.tokens = int_field(po, "tokens");
    c.prompt.deep = bool_field(po, "deep");
    c.prompt.dropout = number_field(po, "dropout");
    c.prompt.project = int_field(po, "project");
    // The deep variants and pool type (absent in a config from before them: VPT's defaults).
    auto present = [&](const char* key) { return !po.Get(key).IsUndefined() && !po.Get(key).IsNull(); };
    if (present("deepLayers")) c.prompt.deep_layers = int_field(po, "deepLayers");
    c.prompt.reverse_deep = present("reverseDeep") && bool_field(po, "reverseDeep");
    c.prompt.deep_shared = present("deepShared") && bool_field(po, "deepShared");
    c.prompt.no_expand = present("deepNoExpand") && bool_field(po, "deepNoExpand");
    const std::string pool = present("pool") ? string_field(po, "pool") : "original";
    require(pool == "original" || pool == "img_pool" || pool == "prompt_pool" || pool == "imgprompt_pool",
            "unknown prompt pool '" + pool + "'");
    const std::string location = present("location") ? string_field(po, "location") : "prepend";
    require(location == "prepend" || location == "add" || location == "add-1" || location == "prepend-pixel" ||
                location == "prepend-pixel-gaussian" || location == "prepend-pixel-imgnettransform" ||
                location == "pad" || location == "below",
            "unknown prompt location '" + location + "'");
    c.prompt.location = location == "add"                             ? PromptLocation::kAdd
                        : location == "add-1"                         ? PromptLocation::kAddOne
                        : location == "prepend-pixel"                 ? PromptLocation::kPrependPixel
                        : location == "prepend-pixel-gaussian"        ? PromptLocation::kPrependPixelGaussian
                        : location == "prepend-pixel-imgnettransform" ? PromptLocation::kPrependPixelImagenet
                        : location == "pad"                           ? PromptLocation::kPad
                        : location == "below"                         ? PromptLocation::kBelow
                                                                      : PromptLocation::kPrepend;
    c.prompt.pool = pool == "img_pool"         ? PromptPool::kImage
                    : pool == "prompt_pool"    ? PromptPool::kPrompt
                    : pool == "imgprompt_pool" ? PromptPool::kImagePrompt
                                               : PromptPool::kOriginal;
  }
  c.num_classes = int_field(o, "numClasses");
  c.head_hidden_layers = int_field(o, "headHiddenLayers");
  const std::string transfer = string_field(o, "transfer");
  if (transfer.rfind("partial-", 0) == 0) {
    const std::string k = transfer.substr(8);
    require(!k.empty() && k.size() < 6 && k.find_first_not_of("0123456789") == std::string::npos,
            "unknown transfer '" + transfer + "' (partial-k takes a number of blocks)");
    c.transfer = Transfer::Partial;
    c.partial_blocks = std::stoll(k);
  } else {
    require(transfer == "prompt" || transfer == "linear" || transfer == "full" || transfer == "bias" ||
                transfer == "adapter" || transfer == "sidetune",
            "unknown transfer '" + transfer + "'");
    c.transfer = transfer == "linear"     ? Transfer::Linear
                 : transfer == "full"     ? Transfer::Full
                 : transfer == "bias"     ? Transfer::Bias
                 : transfer == "adapter"  ? Transfer::Adapter
                 : transfer == "sidetune" ? Transfer::Sidetune
                                          : Transfer::Prompt;
  }
  if (!o.Get("adapterReduction").IsUndefined()) c.adapter_reduction = int_field(o, "adapterReduction");
  if (!o.Get("headDropout").IsUndefined()) c.head_dropout = number_field(o, "headDropout");
  c.device = string_field(o, "device");
  c.seed = static_cast<uint64_t>(int_field(o, "seed"));
  c.bf16 = string_field(o, "precision") == "bf16";
  c.bf16_backbone = string_field(o, "backboneDtype") == "bfloat16";
  c.checkpoint_blocks = bool_field(o, "checkpointBlocks");
  c.fused_norm = bool_field(o, "fusedLayerNorm");
  // Absent (a config from before the option): on, its default.
  c.skip_discarded_prompt_rows =
      o.Get("skipDiscardedPromptRows").IsUndefined() || bool_field(o, "skipDiscardedPromptRows");
  c.pool_prompts = !o.Get("poolPrompts").IsUndefined() && bool_field(o, "poolPrompts");
  return c;
}

OptimizerSpec optimizer_spec_from_js(const Napi::Object& o) {
  OptimizerSpec spec;
  OptimizerConfig& c = spec.config;
  c.kind = string_field(o, "kind");
  require(c.kind == "sgd" || c.kind == "adamw", "unknown optimizer '" + c.kind + "'");
  c.lr = number_field(o, "lr");
  c.momentum = number_field(o, "momentum");
  c.nesterov = bool_field(o, "nesterov");
  c.weight_decay = number_field(o, "weightDecay");
  c.beta1 = number_field(o, "beta1");
  c.beta2 = number_field(o, "beta2");
  c.eps = number_field(o, "eps");
  spec.clip_grad_norm = number_field(o, "clipGradNorm");
  spec.max_nonfinite = int_field(o, "maxNonFinite");
  spec.cuda_graphs = bool_field(o, "cudaGraphs");
  return spec;
}

}  // namespace vpt
