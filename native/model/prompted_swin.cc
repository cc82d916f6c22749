// prompted_swin.cc — see prompted_swin.h.
#include "model/prompted_swin.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/grad_mode.h>

#include <cmath>
#include <set>

#include "model/fit_report.h"
#include "runtime/device_rng.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

void check_fit(const NamedTensors& slots, const TensorMap& tensors, const std::string& headline, const char* code,
               bool (*ignored)(const std::string&)) {
  std::set<std::string> names;
  FitReport report;
  for (const auto& t : slots) {
    names.insert(t.name);
    auto it = tensors.find(t.name);
    if (it == tensors.end()) {
      report.missing.push_back(t.name);
    } else if (it->second.sizes() != c10::IntArrayRef(t.shape)) {
      report.misshaped.push_back(t.name + " " + shape_string(it->second.sizes()) + " (model needs " +
                                 shape_string(t.shape) + ")");
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!names.count(name) && !(ignored && ignored(name))) report.unexpected.push_back(name);
  }
  report.throw_if_any(code, headline);
}

void place(NamedTensors& tensors, const at::Device& device, bool requires_grad) {
  for (auto& t : tensors) *t.slot = t.slot->to(device, at::kFloat).detach().contiguous().requires_grad_(requires_grad);
}

bool ignored_in_checkpoint(const std::string& name) {
  return SwinTransformer::is_checkpoint_head(name) || SwinTransformer::is_recomputed_buffer(name);
}

// Deep prompt sets per stage: stage 0's first block takes the shallow prompts.
int64_t deep_sets(const SwinConfig& c, int64_t stage) { return stage == 0 ? c.depths[0] - 1 : c.depths[stage]; }

}  // namespace

PromptedSwin::PromptedSwin(const SwinModelConfig& config)
    : config_(config),
      device_(parse_device(config.device)),
      swin_(config.swin),
      head_(config.swin.num_features(), config.num_classes, config.head_hidden_layers),
      dropout_rng_(make_generator(device_, config.seed)) {
  if (config_.num_classes < 1) throw Error(kErrArgument, "numClasses must be at least 1");
  if (config_.prompt_tokens < 0) throw Error(kErrArgument, "prompt tokens must not be negative");
  if (config_.transfer == Transfer::Prompt && config_.prompt_tokens == 0)
    throw Error(kErrArgument, "transfer 'prompt' needs prompt tokens (prompt.tokens >= 1)");
  if (config_.transfer != Transfer::Prompt && config_.prompt_tokens > 0)
    throw Error(kErrArgument, "prompts are trained with transfer 'prompt' only (Swin)");
  const SwinConfig& c = config_.swin;
  at::Generator generator = at::detail::createCPUGenerator(config.seed);
  const int64_t N = config_.prompt_tokens;
  if (N > 0) {
    // VPT's xavier-uniform bound for every set: sqrt(6 / (3 p^2 + C0)).
    const double v = std::sqrt(6.0 / static_cast<double>(3 * c.patch_size * c.patch_size + c.embed_dim));
    prompt_embeddings_ = at::empty({1, N, c.embed_dim}, at::kFloat).uniform_(-v, v, generator);
    if (config_.deep) {
      for (int64_t s = 0; s < c.stages(); ++s)
        deep_prompt_embeddings_.push_back(
            at::empty({deep_sets(c, s), N, c.dim(s)}, at::kFloat).uniform_(-v, v, generator));
    }
  }
  head_.initialize(generator);
  auto prompts = prompt_tensors();
  auto head = head_.named_tensors();
  place(prompts, device_, true);
  place(head, device_, true);
}

NamedTensors PromptedSwin::prompt_tensors() {
  NamedTensors out;
  const SwinConfig& c = config_.swin;
  const int64_t N = config_.prompt_tokens;
  if (N == 0) return out;
  out.push_back({"prompt_embeddings", {1, N, c.embed_dim}, &prompt_embeddings_});
  for (size_t s = 0; s < deep_prompt_embeddings_.size(); ++s) {
    const int64_t stage = static_cast<int64_t>(s);
    if (deep_sets(c, stage) == 0) continue;  // a one-block first stage has no deep set
    out.push_back({"deep_prompt_embeddings_" + std::to_string(s),
                   {deep_sets(c, stage), N, c.dim(stage)},
                   &deep_prompt_embeddings_[s]});
  }
  return out;
}

void PromptedSwin::load_backbone(const TensorMap& weights) {
  NamedTensors expected = swin_.named_tensors();
  check_fit(expected, weights, "the weights do not fit the Swin model", kErrWeights, ignored_in_checkpoint);
  for (auto& t : expected) *t.slot = weights.at(t.name);
  place(expected, device_, config_.transfer == Transfer::Full);
  backbone_loaded_ = true;
}

void PromptedSwin::check_images(const at::Tensor& images) const {
  const auto& c = config_.swin;
  if (images.dim() != 4 || images.size(1) != c.in_chans || images.size(2) != c.img_size ||
      images.size(3) != c.img_size || images.size(0) < 1) {
    throw Error(kErrShape, "images have shape " + shape_string(images.sizes()) + ", the model needs [n, " +
                               std::to_string(c.in_chans) + ", " + std::to_string(c.img_size) + ", " +
                               std::to_string(c.img_size) + "]");
  }
  if (!backbone_loaded_) throw Error(kErrWeights, "the backbone weights are not loaded");
}

at::Tensor PromptedSwin::dropped(const at::Tensor& p, at::Generator* rng) const {
  if (rng == nullptr || config_.prompt_dropout <= 0) return p;
  const double keep = 1.0 - config_.prompt_dropout;
  at::Tensor mask = at::empty(p.sizes(), p.options().requires_grad(false)).bernoulli_(keep, *rng);
  return p * mask / keep;
}

at::Tensor PromptedSwin::features(const at::Tensor& images, bool train) {
  check_images(images);
  at::Generator* rng = train ? &dropout_rng_ : nullptr;
  const SwinConfig& c = config_.swin;
  const int64_t B = images.size(0);
  SwinStream s;
  s.x = swin_.embed(images.to(device_, at::kFloat));
  if (config_.prompt_tokens > 0) s.prompts = dropped(prompt_embeddings_.expand({B, -1, -1}), rng);
  for (int64_t st = 0; st < c.stages(); ++st) {
    if (st > 0) s = swin_.merge(st, s);
    // KMnP applies dropout to a deep set once, before expanding it over the batch.
    const at::Tensor deep =
        config_.deep && deep_sets(c, st) > 0 ? dropped(deep_prompt_embeddings_[st], rng) : at::Tensor();
    for (int64_t j = 0; j < c.depths[st]; ++j) {
      const int64_t set = st == 0 ? j - 1 : j;
      if (deep.defined() && set >= 0) s.prompts = deep[set].unsqueeze(0).expand({B, -1, -1});
      s = swin_.block_forward(st, j, s);
    }
  }
  return swin_.pool(s);
}

at::Tensor PromptedSwin::classify(const at::Tensor& features) { return head_.forward(features); }

at::Tensor PromptedSwin::logits(const at::Tensor& images, bool train) { return classify(features(images, train)); }

void PromptedSwin::set_class_weights(const at::Tensor& weights) {
  if (!weights.defined()) {
    class_weights_ = at::Tensor();
    return;
  }
  if (weights.dim() != 1 || weights.size(0) != config_.num_classes) {
    throw Error(kErrShape, "class weights have shape " + shape_string(weights.sizes()) + ", the model has " +
                               std::to_string(config_.num_classes) + " classes");
  }
  class_weights_ = weights.to(device_, at::kFloat).contiguous();
}

NamedTensors PromptedSwin::trainable_tensors() {
  NamedTensors out = prompt_tensors();
  if (config_.transfer == Transfer::Full) {
    NamedTensors backbone = swin_.named_tensors();
    out.insert(out.end(), backbone.begin(), backbone.end());
  }
  NamedTensors head = head_.named_tensors();
  out.insert(out.end(), head.begin(), head.end());
  return out;
}

NamedTensors PromptedSwin::all_tensors() {
  NamedTensors out = swin_.named_tensors();
  for (auto& part : {prompt_tensors(), head_.named_tensors()}) out.insert(out.end(), part.begin(), part.end());
  return out;
}

TensorMap PromptedSwin::export_trainable() {
  TensorMap out;
  for (auto& t : trainable_tensors()) out[t.name] = t.slot->detach().to(at::kCPU, at::kFloat).contiguous();
  return out;
}

void PromptedSwin::check_trainable(const TensorMap& tensors) {
  check_fit(trainable_tensors(), tensors, "the trainable state does not fit the Swin model", kErrShape, nullptr);
}

void PromptedSwin::import_trainable(const TensorMap& tensors) {
  check_trainable(tensors);
  at::NoGradGuard no_grad;
  for (auto& t : trainable_tensors()) t.slot->copy_(tensors.at(t.name));
}

int64_t PromptedSwin::trainable_params() {
  int64_t n = 0;
  for (auto& t : trainable_tensors()) n += numel_of(t.shape);
  return n;
}

int64_t PromptedSwin::total_params() {
  int64_t n = 0;
  for (auto& t : all_tensors()) n += numel_of(t.shape);
  return n;
}

}  // namespace vpt
