// prompt.cc — see prompt.h.
#include "model/prompt.h"

#include <cmath>

namespace vpt {

Prompts::Prompts(const PromptConfig& config, int64_t embed_dim, int64_t depth, int64_t patch_size)
    : config_(config), embed_dim_(embed_dim), depth_(depth), patch_size_(patch_size) {}

NamedTensors Prompts::named_tensors() {
  if (!enabled()) return {};
  const int64_t N = config_.tokens;
  const int64_t Pd = config_.project > 0 ? config_.project : embed_dim_;
  NamedTensors out;
  if (!(config_.deep && config_.reverse_deep)) out.push_back({"prompt_embeddings", {1, N, Pd}, &prompt_embeddings_});
  if (deep_sets() > 0) out.push_back({"deep_prompt_embeddings", {deep_sets(), N, Pd}, &deep_prompt_embeddings_});
  if (config_.project > 0) {
    out.push_back({"prompt_proj.weight", {embed_dim_, Pd}, &proj_weight_});
    out.push_back({"prompt_proj.bias", {embed_dim_}, &proj_bias_});
  }
  return out;
}

void Prompts::initialize(at::Generator& generator) {
  if (!enabled()) return;
  const int64_t Pd = config_.project > 0 ? config_.project : embed_dim_;
  const double v = std::sqrt(6.0 / static_cast<double>(3 * patch_size_ * patch_size_ + Pd));
  for (auto& t : named_tensors()) {
    at::Tensor fresh = at::empty(t.shape, at::kFloat);
    if (t.name == "prompt_proj.weight") {
      fresh.normal_(0.0, std::sqrt(2.0 / static_cast<double>(embed_dim_)), generator);
    } else if (t.name == "prompt_proj.bias") {
      const double bound = 1.0 / std::sqrt(static_cast<double>(Pd));
      fresh.uniform_(-bound, bound, generator);
    } else {
      fresh.uniform_(-v, v, generator);
    }
    *t.slot = fresh;
  }
}

int64_t Prompts::deep_sets() const {
  if (!config_.deep || config_.deep_shared) return 0;
  if (config_.deep_layers <= 0) return depth_ - 1;
  return config_.reverse_deep ? config_.deep_layers : config_.deep_layers - 1;
}

at::Tensor Prompts::project(const at::Tensor& p) const {
  return config_.project > 0 ? at::linear(p, proj_weight_, proj_bias_) : p;
}

at::Tensor Prompts::tokens_for_block(int64_t set, int64_t batch, at::Generator* dropout_rng) const {
  at::Tensor p = set == 0 ? prompt_embeddings_ : deep_prompt_embeddings_.narrow(0, set - 1, 1);
  p = project(p).expand({batch, -1, -1});  // (B, N, D)
  if (dropout_rng == nullptr || config_.dropout <= 0) return p;
  const double keep = 1.0 - config_.dropout;
  at::Tensor mask = at::empty(p.sizes(), p.options().requires_grad(false)).bernoulli_(keep, *dropout_rng);
  return p * mask / keep;
}

}  // namespace vpt
