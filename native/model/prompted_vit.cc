// prompted_vit.cc — see prompted_vit.h.
#include "model/prompted_vit.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/cuda.h>

#include <set>
#include <sstream>
#include <tuple>

#include "model/block_checkpoint.h"
#include "model/fit_report.h"
#include "runtime/compat.h"
#include "runtime/device_rng.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

// Names every missing, mis-shaped and unexpected tensor of `tensors` against `slots` in one
// error; names for which `ignored` returns true may be present without a slot.
template <typename Ignored>
void check_fit(const NamedTensors& slots, const TensorMap& tensors, const std::string& headline, const char* code,
               Ignored ignored) {
  std::set<std::string> names;
  FitReport report;
  auto& [missing, misshaped, unexpected] = report;
  for (const auto& t : slots) {
    names.insert(t.name);
    auto it = tensors.find(t.name);
    if (it == tensors.end()) {
      missing.push_back(t.name);
    } else if (it->second.sizes() != c10::IntArrayRef(t.shape)) {
      misshaped.push_back(t.name + " " + shape_string(it->second.sizes()) + " (model needs " + shape_string(t.shape) +
                          ")");
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!names.count(name) && !ignored(name)) unexpected.push_back(name);
  }
  report.throw_if_any(code, headline);
}

// LayerNorm runs in fp32 (autocast's rule on CUDA; the CPU kernel rejects bf16 parameters
// with fp32 input), so its (D,) weights stay fp32 in a bf16 backbone: no per-step casts, and
// they are under 0.1% of the bytes.
bool is_layer_norm(const std::string& name) { return name.find("norm") != std::string::npos; }

// Moves each slot to `device` in fp32, or (`bf16`) everything but LayerNorm in bfloat16;
// `requires_grad` marks what autograd may track.
void place(NamedTensors& tensors, const at::Device& device, bool requires_grad, bool bf16 = false) {
  for (auto& t : tensors) {
    const at::ScalarType dtype = bf16 && !is_layer_norm(t.name) ? at::kBFloat16 : at::kFloat;
    *t.slot = t.slot->to(device, dtype).detach().contiguous().requires_grad_(requires_grad);
  }
}

}  // namespace

at::Device parse_device(const std::string& spec) {
  at::Device device(at::kCPU);
  try {
    device = at::Device(spec);
  } catch (const c10::Error&) {
    throw Error(kErrDevice, "unknown device '" + spec + "' (expected cpu, cuda or cuda:N)");
  }
  if (device.is_cuda()) {
    if (!torch::cuda::is_available()) {
      throw Error(kErrDevice, "device '" + spec + "' requested but CUDA is not available in this LibTorch/machine");
    }
    const int64_t count = static_cast<int64_t>(torch::cuda::device_count());
    if (device.has_index() && device.index() >= count) {
      throw Error(kErrDevice, "device '" + spec + "' does not exist (" + std::to_string(count) + " CUDA device(s))");
    }
  } else if (!device.is_cpu()) {
    throw Error(kErrDevice, "unsupported device '" + spec + "' (expected cpu, cuda or cuda:N)");
  }
  return device;
}

PromptedVit::PromptedVit(const ModelConfig& config)
    : config_(config),
      device_(parse_device(config.device)),
      vit_(config.vit),
      prompts_(config.prompt, config.vit.embed_dim, config.vit.depth, config.vit.patch_size),
      head_(config.vit.embed_dim, config.num_classes, config.head_hidden_layers),
      dropout_rng_(make_generator(device_, config.seed)) {
  if (config_.bf16_backbone && config_.transfer == Transfer::Full) {
    throw Error(kErrArgument, "a bfloat16 backbone is frozen-only: full fine-tuning trains it in float32");
  }
  at::Generator generator = at::detail::createCPUGenerator(config.seed);
  prompts_.initialize(generator);
  head_.initialize(generator);
  auto prompt_tensors = prompts_.named_tensors();
  auto head_tensors = head_.named_tensors();
  place(prompt_tensors, device_, config_.transfer != Transfer::Linear);
  place(head_tensors, device_, true);
}

void PromptedVit::load_backbone(const TensorMap& weights) {
  NamedTensors expected = vit_.named_tensors();
  // Google layouts become timm's; pos_embed is resampled to the grid the model runs at.
  const TensorMap checkpoint = vit_.adapt_checkpoint(weights);
  // The checkpoint's classifier (and a distilled DeiT's head_dist) is dropped: the task gets its own head.
  check_fit(expected, checkpoint, "the weights do not fit the model", kErrWeights,
            VisionTransformer::is_checkpoint_head);
  for (auto& t : expected) *t.slot = checkpoint.at(t.name);
  place(expected, device_, config_.transfer == Transfer::Full, config_.bf16_backbone);
  backbone_loaded_ = true;
  ++generation_;
}

void PromptedVit::check_images(const at::Tensor& images) const {
  const auto& v = config_.vit;
  if (images.dim() != 4 || images.size(1) != v.in_chans || images.size(2) != v.img_size ||
      images.size(3) != v.img_size || images.size(0) < 1) {
    throw Error(kErrShape, "images have shape " + shape_string(images.sizes()) + ", the model needs [n, " +
                               std::to_string(v.in_chans) + ", " + std::to_string(v.img_size) + ", " +
                               std::to_string(v.img_size) + "]");
  }
  if (!backbone_loaded_) throw Error(kErrWeights, "the backbone weights are not loaded");
}

at::Tensor PromptedVit::encode(const at::Tensor& images, bool train) {
  check_images(images);
  const int64_t B = images.size(0);
  const int64_t prefix = config_.vit.num_prefix_tokens();
  const int64_t N = prompts_.tokens();
  at::Generator* rng = train ? &dropout_rng_ : nullptr;
  // The residual stream stays fp32 (as under autocast with fp32 weights) when the weights are bf16.
  at::Tensor x = vit_.embed(images.to(device_, at::kFloat)).to(at::kFloat);  // (B, prefix + P, D)
  const bool kv_rows = prompts_as_kv_rows();
  if (prompts_.enabled() && !kv_rows) {
    x = at::cat({x.narrow(1, 0, prefix), prompts_.tokens_for_block(0, B, rng), x.narrow(1, prefix, x.size(1) - prefix)},
                1);  // (B, prefix + N + P, D)
  }
  const bool deep = prompts_.enabled() && prompts_.deep();
  if (!config_.checkpoint_blocks || config_.transfer == Transfer::Full) return run_blocks(x, rng);
  // Checkpointed blocks take the stream whole: the deep prompts go in between them, or with
  // kv_rows alongside it.
  for (int64_t i = 0; i < config_.vit.depth; ++i) {
    if (kv_rows) {
      x = checkpointed_block(vit_, i, x, queries_of(i), device_.type(), backbone_autocast(), kv_prompts(i, B, rng),
                             prefix);
      continue;
    }
    if (i > 0 && deep) {
      x = at::cat({x.narrow(1, 0, prefix), prompts_.tokens_for_block(i, B, rng),
                   x.narrow(1, prefix + N, x.size(1) - prefix - N)},
                  1);
    }
    x = checkpointed_block(vit_, i, x, queries_of(i), device_.type(), backbone_autocast());
  }
  return x;  // (B, T, D), (B, T - N, D) with kv_rows, or (B, 1, D) with token pooling
}

at::Tensor PromptedVit::run_blocks(const at::Tensor& x, at::Generator* rng) {
  const int64_t B = x.size(0), prefix = config_.vit.num_prefix_tokens();
  const bool deep = prompts_.enabled() && prompts_.deep();
  const bool kv_rows = prompts_as_kv_rows();
  const bool fused = config_.fused_norm;
  AddNorm in = vit_.block_input(0, x, at::Tensor(), at::Tensor(), 0, fused);
  at::Tensor y, m;  // block i's output is y + m
  for (int64_t i = 0; i < config_.vit.depth; ++i) {
    if (i > 0) {
      const bool insert = deep && !kv_rows;
      in = vit_.block_input(i, y, m, insert ? prompts_.tokens_for_block(i, B, rng) : at::Tensor(), prefix, fused);
    }
    // kv_rows: the prompts' norm1 (no residual: nothing of theirs carries over), keys and values only.
    const at::Tensor kv_h =
        kv_rows ? vit_.block_input(i, kv_prompts(i, B, rng), at::Tensor(), at::Tensor(), 0, fused).normed
                : at::Tensor();
    std::tie(y, m) = vit_.block_forward_normed(i, in.sum, in.normed, queries_of(i), fused, kv_h, prefix);
  }
  return y + m;  // (B, T, D), (B, T - N, D) with kv_rows, or (B, 1, D) with token pooling
}

bool PromptedVit::prompts_as_kv_rows() const {
  // Pooling that reads the prompt rows needs them computed by the last block.
  const bool pooled = config_.pool_prompts && config_.vit.global_pool != "token";
  return config_.skip_discarded_prompt_rows && prompts_.enabled() && prompts_.deep() && !pooled;
}

at::Tensor PromptedVit::kv_prompts(int64_t block, int64_t batch, at::Generator* rng) const {
  at::Tensor p = prompts_.tokens_for_block(block, batch, rng);  // (B, N, D)
  // Without dropout every sample has the same prompts (an expanded (1, N, D)): their norm,
  // keys and values are computed once and broadcast (autograd sums their gradients).
  return batch > 1 && p.stride(0) == 0 ? p.narrow(0, 0, 1) : p;
}

int64_t PromptedVit::queries_of(int64_t block) const {
  // Token pooling reads only the CLS row of the last block: compute just that row there.
  const bool last = block == config_.vit.depth - 1;
  return last && config_.vit.global_pool == "token" ? (config_.vit.dist_token ? 2 : 1) : -1;
}

at::Tensor PromptedVit::features(const at::Tensor& images, bool train) {
  compat::AutocastGuard autocast(device_.type(), backbone_autocast());
  // Average pooling skips the prefix and the prompt rows, which the stream may leave out.
  const int64_t skip =
      config_.vit.num_prefix_tokens() + (prompts_as_kv_rows() || config_.pool_prompts ? 0 : prompts_.tokens());
  return vit_.pool(encode(images, train), skip).to(at::kFloat);
}

void PromptedVit::set_class_weights(const at::Tensor& weights) {
  ++generation_;
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

at::Tensor PromptedVit::classify(const at::Tensor& features) {
  compat::AutocastGuard autocast(device_.type(), config_.bf16);
  return head_.forward(features).to(at::kFloat);
}

at::Tensor PromptedVit::logits(const at::Tensor& images, bool train) { return classify(features(images, train)); }

NamedTensors PromptedVit::trainable_tensors() {
  NamedTensors out;
  if (config_.transfer != Transfer::Linear) out = prompts_.named_tensors();
  if (config_.transfer == Transfer::Full) {
    NamedTensors backbone = vit_.named_tensors();
    out.insert(out.end(), backbone.begin(), backbone.end());
  }
  NamedTensors head = head_.named_tensors();
  out.insert(out.end(), head.begin(), head.end());
  return out;
}

TensorMap PromptedVit::export_trainable() {
  TensorMap out;
  for (auto& t : trainable_tensors()) out[t.name] = t.slot->detach().to(at::kCPU, at::kFloat).contiguous();
  return out;
}

void PromptedVit::check_trainable(const TensorMap& tensors) {
  check_fit(trainable_tensors(), tensors, "the trainable state does not fit the model", kErrShape,
            [](const std::string&) { return false; });
}

void PromptedVit::import_trainable(const TensorMap& tensors) {
  check_trainable(tensors);
  at::NoGradGuard no_grad;
  for (auto& t : trainable_tensors()) t.slot->copy_(tensors.at(t.name));
}

int64_t PromptedVit::trainable_params() {
  int64_t n = 0;
  for (auto& t : trainable_tensors()) n += numel_of(t.shape);
  return n;
}

NamedTensors PromptedVit::all_tensors() {
  NamedTensors out = vit_.named_tensors();
  for (auto& part : {prompts_.named_tensors(), head_.named_tensors()}) out.insert(out.end(), part.begin(), part.end());
  return out;
}

int64_t PromptedVit::total_params() {
  int64_t n = 0;
  for (auto& t : all_tensors()) n += numel_of(t.shape);
  return n;
}

int64_t PromptedVit::backbone_bytes() {
  int64_t n = 0;
  for (auto& t : vit_.named_tensors()) {
    if (t.slot->defined()) n += static_cast<int64_t>(t.slot->nbytes());
  }
  return n;
}

}  // namespace vpt
