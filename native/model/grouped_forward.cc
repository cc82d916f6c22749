// grouped_forward.cc — see grouped_forward.h.
#include "model/grouped_forward.h"

#include <ATen/core/grad_mode.h>

#include <functional>
#include <tuple>

namespace vpt {

namespace {

// The first field in which two models' stream shapes differ ("" when none does).
std::string shape_difference(const ModelConfig& a, const ModelConfig& b) {
  const PromptConfig &p = a.prompt, &q = b.prompt;
  auto num = [](const char* what, int64_t x, int64_t y) {
    return x == y ? std::string() : std::string(what) + " (" + std::to_string(x) + " vs " + std::to_string(y) + ")";
  };
  auto flag = [](const char* what, bool x, bool y) {
    return x == y ? std::string() : std::string(what) + " (" + (x ? "on" : "off") + " vs " + (y ? "on" : "off") + ")";
  };
  for (const std::string& d : {
           num("transfer", static_cast<int64_t>(a.transfer), static_cast<int64_t>(b.transfer)),
           num("prompt tokens", p.tokens, q.tokens),
           flag("deep prompts", p.deep, q.deep),
           num("prompt projection", p.project, q.project),
           num("deep layers", p.deep_layers, q.deep_layers),
           flag("reverse deep", p.reverse_deep, q.reverse_deep),
           flag("deep shared", p.deep_shared, q.deep_shared),
           flag("deep no-expand", p.no_expand, q.no_expand),
           num("prompt pool", static_cast<int64_t>(p.pool), static_cast<int64_t>(q.pool)),
           num("prompt location", static_cast<int64_t>(p.location), static_cast<int64_t>(q.location)),
           flag("skipDiscardedPromptRows", a.skip_discarded_prompt_rows, b.skip_discarded_prompt_rows),
           flag("poolPrompts", a.pool_prompts, b.pool_prompts),
           num("image size", a.vit.img_size, b.vit.img_size),
       }) {
    if (!d.empty()) return d;
  }
  return "";
}

}  // namespace

std::string GroupedForward::unsupported(const std::vector<PromptedVit*>& models) {
  if (models.empty()) return "no models";
  PromptedVit& a = *models[0];
  NamedTensors backbone = a.backbone_tensors();
  for (size_t g = 0; g < models.size(); ++g) {
    PromptedVit& m = *models[g];
    const ModelConfig& c = m.config_;
    const std::string which = "model " + std::to_string(g) + ": ";
    if (c.transfer != Transfer::Prompt && c.transfer != Transfer::Linear)
      return which + "its transfer trains more than prompts and a head (stacked steps are for prompt and linear)";
    if (c.bf16 || c.bf16_backbone) return which + "bf16 (stacked steps are fp32 only)";
    if (c.checkpoint_blocks) return which + "activation checkpointing (checkpointBlocks)";
    if (c.fused_norm) return which + "fused LayerNorm (fusedLayerNorm)";
    if (m.prompts_.enabled() && is_input_prompt(c.prompt.location))
      return which + "prompt location pad / below prompts each config's own image";
    if (!m.backbone_loaded_) return which + "the backbone weights are not loaded";
    if (m.device_ != a.device_) return which + "on another device than model 0";
    if (g == 0) continue;
    const std::string d = shape_difference(a.config_, c);
    if (!d.empty()) return which + "another " + d + " than model 0";
    NamedTensors own = m.backbone_tensors();
    for (size_t i = 0; i < own.size(); ++i) {
      if (!own[i].slot->defined()) continue;
      if (!backbone[i].slot->defined() || own[i].slot->data_ptr() != backbone[i].slot->data_ptr())
        return which + "its backbone is not model 0's (share it: createModelSharingBackbone)";
    }
  }
  return "";
}

std::vector<at::Tensor> GroupedForward::train_logits(const std::vector<PromptedVit*>& models,
                                                     const at::Tensor& images) {
  PromptedVit& a = *models[0];
  for (PromptedVit* m : models) m->check_images(images);
  const int64_t G = static_cast<int64_t>(models.size());
  std::vector<at::Tensor> logits;
  if (a.config_.transfer == Transfer::Linear) {
    // As Trainer::forward: the backbone without autograd, then each model's head.
    at::Tensor features;
    {
      at::NoGradGuard no_grad;
      features = a.features(images, /*train=*/true);
    }
    for (PromptedVit* m : models) logits.push_back(m->classify(features, /*train=*/true));
    return logits;
  }

  const VisionTransformer& vit = a.vit_;
  const at::Tensor x0 = a.embed_images(images).to(at::kFloat);  // (B, prefix + P, D)
  const int64_t B = x0.size(0), prefix = a.config_.vit.num_prefix_tokens(), N = a.prompts_.tokens();
  const bool fused = a.config_.fused_norm;
  // Each model's (B, n, D) rows of one kind, stacked in model order: (G*B, n, D).
  auto stacked = [&](const std::function<at::Tensor(PromptedVit&, at::Generator*)>& rows_of) {
    std::vector<at::Tensor> parts;
    for (PromptedVit* m : models) parts.push_back(rows_of(*m, &m->dropout_rng_).expand({B, -1, -1}));
    return at::cat(parts, 0);
  };
  auto tokens = [&](int64_t set) {
    return stacked([set, B](PromptedVit& m, at::Generator* rng) { return m.prompts_.tokens_for_block(set, B, rng); });
  };
  auto rows = [&](int64_t set) {
    return stacked([set, B](PromptedVit& m, at::Generator* rng) { return m.prompt_rows(set, B, rng); });
  };
  // Block i's key / value rows: (G, N, D) when each model's batch shares its rows, else (G*B, N, D).
  auto kv_rows = [&](int64_t block) {
    std::vector<at::Tensor> parts;
    bool shared = true;
    for (PromptedVit* m : models) {
      parts.push_back(m->kv_prompts(block, B, &m->dropout_rng_));
      shared = shared && parts.back().size(0) == 1;
    }
    if (!shared) {
      for (auto& p : parts) p = p.expand({B, -1, -1});
    }
    return at::cat(parts, 0);
  };
  using Step = PromptSchedule::Step;
  // PromptedVit::apply_prompt_step on the stacked stream.
  auto apply_step = [&](int64_t block, const at::Tensor& x) {
    const auto& b = a.schedule_.blocks[static_cast<size_t>(block)];
    if (b.step == Step::kKeep) return x;
    if (b.step == Step::kAdd) return x + tokens(b.set);
    const int64_t rest = b.step == Step::kInsert ? prefix : prefix + N;
    std::vector<at::Tensor> parts = {x.narrow(1, 0, prefix)};
    if (b.step != Step::kRemove) parts.push_back(rows(b.set));
    parts.push_back(x.narrow(1, rest, x.size(1) - rest));
    return at::cat(parts, 1);
  };

  // PromptedVit::encode_from (from block 0) and run_blocks, step for step.
  const at::Tensor x = apply_step(0, G == 1 ? x0 : x0.repeat({G, 1, 1}));
  AddNorm in = vit.block_input(0, x, at::Tensor(), at::Tensor(), 0, fused);
  at::Tensor y, mlp;  // block i's output is y + mlp
  for (int64_t i = 0; i < a.config_.vit.depth; ++i) {
    const auto& b = a.schedule_.blocks[static_cast<size_t>(i)];
    if (i > 0 && b.step == Step::kReplace) {
      in = vit.block_input(i, y, mlp, tokens(b.set), prefix, fused);
    } else if (i > 0 && b.step == Step::kKeep) {
      in = vit.block_input(i, y, mlp, at::Tensor(), 0, fused);
    } else if (i > 0 && b.step == Step::kAdd) {
      in = vit.block_input(i, y, mlp + tokens(b.set), at::Tensor(), 0, fused);
    } else if (i > 0) {
      in = vit.block_input(i, apply_step(i, y + mlp), at::Tensor(), at::Tensor(), 0, fused);
    }
    const at::Tensor kv_h =
        b.kv ? vit.block_input(i, kv_rows(i), at::Tensor(), at::Tensor(), 0, fused).normed : at::Tensor();
    std::tie(y, mlp) = vit.block_forward_normed(i, in.sum, in.normed, a.queries_of(i), fused, kv_h);
  }
  const at::Tensor features = a.pool_encoded(y + mlp);  // (G*B, D)
  for (int64_t g = 0; g < G; ++g)
    logits.push_back(models[static_cast<size_t>(g)]->classify(features.narrow(0, g * B, B), /*train=*/true));
  return logits;
}

}  // namespace vpt
