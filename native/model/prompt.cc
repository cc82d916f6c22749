// prompt.cc — see prompt.h.
#include "model/prompt.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

namespace vpt {

namespace {

// torchvision's Normalize with ImageNet's mean / std, which KMnP/vpt applies to the pixel
// prompts of pad and prepend-pixel-imgnettransform: (1, 3, h, w).
at::Tensor imagenet_normalized(const at::Tensor& pixels) {
  const auto options = pixels.options().requires_grad(false);
  const at::Tensor mean = at::tensor({0.485, 0.456, 0.406}, options.dtype(at::kDouble)).to(options).view({1, 3, 1, 1});
  const at::Tensor std = at::tensor({0.229, 0.224, 0.225}, options.dtype(at::kDouble)).to(options).view({1, 3, 1, 1});
  return (pixels - mean) / std;
}

}  // namespace

Prompts::Prompts(const PromptConfig& config, int64_t embed_dim, int64_t depth, int64_t patch_size, int64_t image_size,
                 int64_t channels)
    : config_(config),
      embed_dim_(embed_dim),
      depth_(depth),
      patch_size_(patch_size),
      image_size_(image_size),
      channels_(channels) {}

NamedTensors Prompts::named_tensors() {
  if (!enabled()) return {};
  const int64_t N = config_.tokens;
  const int64_t C = channels_, p = patch_size_, S = image_size_;
  if (is_pixel_prepend(config_.location)) return {{"prompt_embeddings", {1, C, p, p * N}, &prompt_embeddings_}};
  if (config_.location == PromptLocation::kPad) {
    return {{"prompt_embeddings_tb", {1, C, 2 * N, S + 2 * N}, &prompt_tb_},
            {"prompt_embeddings_lr", {1, C, S, 2 * N}, &prompt_lr_}};
  }
  if (config_.location == PromptLocation::kBelow) {
    return {{"prompt_embeddings", {1, N, S, S}, &prompt_embeddings_},
            {"patch_embeddings.weight", {embed_dim_, C + N, p, p}, &below_weight_},
            {"patch_embeddings.bias", {embed_dim_}, &below_bias_}};
  }
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
  const PromptLocation l = config_.location;
  for (auto& t : named_tensors()) {
    at::Tensor fresh = at::empty(t.shape, at::kFloat);
    if (l == PromptLocation::kPrependPixelGaussian) {
      fresh.normal_(0.0, 1.0, generator);
    } else if (l == PromptLocation::kPrependPixelImagenet || l == PromptLocation::kPad) {
      fresh.uniform_(0.0, 1.0, generator);  // pixels in [0, 1], normalised in the forward
    } else if (t.name == "patch_embeddings.bias") {
      fresh.zero_();  // below: the backbone's bias replaces it (seed_below_patch_embedding)
    } else if (t.name == "prompt_proj.weight") {
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

at::Tensor Prompts::pixel_prompts() const {
  return config_.location == PromptLocation::kPrependPixelImagenet ? imagenet_normalized(prompt_embeddings_)
                                                                   : prompt_embeddings_;
}

at::Tensor Prompts::pad_images(const at::Tensor& images) const {
  const int64_t N = config_.tokens, B = images.size(0);
  const at::Tensor tb = imagenet_normalized(prompt_tb_).expand({B, -1, -1, -1});
  const at::Tensor lr = imagenet_normalized(prompt_lr_).expand({B, -1, -1, -1});
  // Left and right columns first, then the top and bottom rows across the widened image.
  const at::Tensor x = at::cat({lr.narrow(3, 0, N), images, lr.narrow(3, N, N)}, 3);
  return at::cat({tb.narrow(2, 0, N), x, tb.narrow(2, N, N)}, 2);  // (B, C, S+2N, S+2N)
}

at::Tensor Prompts::below_images(const at::Tensor& images) const {
  return at::cat({images, prompt_embeddings_.expand({images.size(0), -1, -1, -1})}, 1);  // (B, C+N, S, S)
}

void Prompts::seed_below_patch_embedding(const at::Tensor& weight, const at::Tensor& bias) {
  at::NoGradGuard no_grad;
  below_weight_.narrow(1, 0, channels_).copy_(weight);
  if (bias.defined()) below_bias_.copy_(bias);
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
