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
// `requires_grad(name)` marks what autograd may track.
template <typename RequiresGrad>
void place_if(NamedTensors& tensors, const at::Device& device, RequiresGrad requires_grad, bool bf16 = false) {
  for (auto& t : tensors) {
    const at::ScalarType dtype = bf16 && !is_layer_norm(t.name) ? at::kBFloat16 : at::kFloat;
    *t.slot = t.slot->to(device, dtype).detach().contiguous().requires_grad_(requires_grad(t.name));
  }
}

void place(NamedTensors& tensors, const at::Device& device, bool requires_grad, bool bf16 = false) {
  place_if(
      tensors, device, [requires_grad](const std::string&) { return requires_grad; }, bf16);
}

// Whether the backbone tensor `name` trains under `config`'s transfer mode, as KMnP/vpt's
// vit_models.py selects them: partial-k the last k blocks and the final norm (timm's fc_norm
// and MAP pool, which sit where that norm does, too), bias every tensor named *bias*.
bool backbone_tensor_trains(const ModelConfig& config, const std::string& name) {
  switch (config.transfer) {
    case Transfer::Full:
      return true;
    case Transfer::Bias:
      return name.find("bias") != std::string::npos;
    case Transfer::Partial: {
      if (name.rfind("norm.", 0) == 0 || name.rfind("fc_norm.", 0) == 0 || name.rfind("attn_pool.", 0) == 0)
        return true;
      if (name.rfind("blocks.", 0) != 0) return false;
      const int64_t block = std::stoll(name.substr(7, name.find('.', 7) - 7));
      return block >= config.vit.depth - config.partial_blocks;
    }
    default:
      return false;
  }
}

// The adapters' width (transfer adapter) and the checks of the transfer modes against the model.
ModelConfig with_transfer(ModelConfig config) {
  const int64_t D = config.vit.embed_dim;
  if (config.transfer == Transfer::Partial && (config.partial_blocks < 1 || config.partial_blocks > config.vit.depth)) {
    throw Error(kErrArgument, "partial-" + std::to_string(config.partial_blocks) + " is outside partial-1..partial-" +
                                  std::to_string(config.vit.depth) + " (the backbone's blocks)");
  }
  if (config.transfer == Transfer::Adapter) {
    const int64_t r = config.adapter_reduction;
    if (r < 1 || D / r < 1) {
      throw Error(kErrArgument,
                  "adapter reduction " + std::to_string(r) + " leaves no adapter units of width " + std::to_string(D));
    }
    config.vit.adapter_dim = D / r;
  } else {
    config.vit.adapter_dim = 0;
  }
  const bool baseline = config.transfer == Transfer::Partial || config.transfer == Transfer::Bias ||
                        config.transfer == Transfer::Adapter || config.transfer == Transfer::Sidetune;
  if (baseline && config.prompt.tokens > 0) {
    throw Error(kErrArgument, "the partial-k, bias, adapter and sidetune baselines train no prompts: give none");
  }
  if (config.transfer == Transfer::Sidetune && config.vit.img_size < SideNetwork::kMinImageSize) {
    throw Error(kErrArgument, "transfer sidetune: the side network (AlexNet) needs images of at least " +
                                  std::to_string(SideNetwork::kMinImageSize) + " px, the model's are " +
                                  std::to_string(config.vit.img_size));
  }
  return config;
}

// Added prompts (location add / add-1) have one row per token, or one row: their count.
ModelConfig with_located_prompts(ModelConfig config) {
  PromptConfig& p = config.prompt;
  if (p.tokens > 0 && p.location == PromptLocation::kAdd)
    p.tokens = config.vit.num_prefix_tokens() + config.vit.num_patches();
  if (p.tokens > 0 && p.location == PromptLocation::kAddOne) p.tokens = 1;
  // pad: the backbone runs at S + 2N (its pos_embed resized as KMnP's loader does).
  if (p.tokens > 0 && p.location == PromptLocation::kPad) {
    config.vit.img_size += 2 * p.tokens;
    config.vit.npz_pos_embed_align_corners = true;
  }
  return config;
}

// The prompt schedule, after checking the deep variants and pool type against the model.
PromptSchedule checked_schedule(const ModelConfig& config) {
  const PromptConfig& p = config.prompt;
  const int64_t L = config.vit.depth;
  auto require = [](bool ok, const std::string& message) {
    if (!ok) throw Error(kErrArgument, message);
  };
  const bool variant = p.deep_layers != 0 || p.reverse_deep || p.deep_shared || p.no_expand;
  require(!variant || p.deep,
          "the deep variants (deepLayers, reverseDeep, deepShared, deepNoExpand) need deep prompts");
  require(p.deep_layers >= 0 && p.deep_layers <= L, "deepLayers " + std::to_string(p.deep_layers) + " is outside 1.." +
                                                        std::to_string(L) + " (the backbone's blocks)");
  require(!p.reverse_deep || p.deep_layers > 0, "reverseDeep needs deepLayers (the number of last blocks)");
  require(!(p.reverse_deep && (p.deep_shared || p.no_expand)),
          "reverseDeep runs one set per block and keeps the rows: not with deepShared or deepNoExpand");
  require(!(p.no_expand && p.deep_shared), "deepNoExpand runs one set per block: not with deepShared");
  const bool added = p.location == PromptLocation::kAdd || p.location == PromptLocation::kAddOne;
  require(!added || (p.pool == PromptPool::kOriginal && !p.no_expand),
          "added prompts (location add / add-1) are no rows of their own: pool 'original', no deepNoExpand");
  if (p.tokens > 0 && is_pixel_space(p.location)) {
    // KMnP/vpt defines them for shallow prompts of the model's width, pooled by the class token.
    require(!p.deep, "the pixel-space prompt locations (prepend-pixel*, pad, below) are shallow: not with deep");
    require(p.project == 0, "the pixel-space prompt locations (prepend-pixel*, pad, below) take no projection");
    require(p.pool == PromptPool::kOriginal,
            "the pixel-space prompt locations (prepend-pixel*, pad, below) are pooled as the backbone pools: pool "
            "'original'");
    require(config.vit.in_chans == 3, "the pixel-space prompt locations need a 3-channel (RGB) backbone");
    require(!(p.location == PromptLocation::kBelow && config.transfer == Transfer::Full),
            "prompt location below replaces the patch embedding: not with full fine-tuning");
  }
  require(!config.pool_prompts || p.pool == PromptPool::kOriginal,
          "poolPrompts widens pool 'original' (average / MAP pooling); the pool types choose their rows themselves");
  // Average / MAP pooling with poolPrompts reads the last block's prompt rows too.
  const bool pool_prompts = config.pool_prompts && config.vit.global_pool != "token";
  const bool reads_prompts = p.pool == PromptPool::kPrompt || p.pool == PromptPool::kImagePrompt || pool_prompts;
  PromptSchedule schedule = make_prompt_schedule(p, L, config.skip_discarded_prompt_rows, reads_prompts);
  const bool rows_out = p.tokens > 0 && make_prompt_schedule(p, L, false, reads_prompts).rows_out();
  require(p.pool == PromptPool::kOriginal || rows_out,
          "the pool types img_pool, prompt_pool and imgprompt_pool need prompt rows in the last block's output "
          "(not with deepNoExpand before the last block, nor without prompts)");
  return schedule;
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
    : config_(with_located_prompts(with_transfer(config))),
      input_size_(config.vit.img_size),
      device_(parse_device(config.device)),
      vit_(config_.vit),
      prompts_(config_.prompt, config.vit.embed_dim, config.vit.depth, config.vit.patch_size, config.vit.img_size,
               config.vit.in_chans),
      schedule_(checked_schedule(config_)),
      head_(config.vit.embed_dim, config.num_classes, config.head_hidden_layers, config.head_dropout),
      side_(config.transfer == Transfer::Sidetune ? config.vit.embed_dim : 0),
      dropout_rng_(make_generator(device_, config.seed)) {
  if (config_.bf16_backbone && trains_backbone()) {
    throw Error(kErrArgument,
                "a bfloat16 backbone is frozen-only: full fine-tuning, partial-k and bias train it in float32");
  }
  at::Generator generator = at::detail::createCPUGenerator(config.seed);
  prompts_.initialize(generator);
  head_.initialize(generator);
  side_.initialize(generator);
  auto prompt_tensors = prompts_.named_tensors();
  auto head_tensors = head_.named_tensors();
  place(prompt_tensors, device_, config_.transfer != Transfer::Linear);
  place(head_tensors, device_, true);
  auto head_stats = head_.named_buffers();
  place(head_stats, device_, false);
  // Adapters start at zero, as KMnP/vpt's do: the model starts as the backbone.
  auto adapters = vit_.adapter_tensors();
  for (auto& t : adapters) *t.slot = at::zeros(t.shape, at::kFloat);
  place(adapters, device_, true);
  // The side network trains whole, as KMnP/vpt leaves requires_grad on for it.
  auto side = side_.named_tensors();
  place(side, device_, true);
}

void PromptedVit::load_side(const TensorMap& weights, const std::string& path) {
  if (!side_.enabled()) throw Error(kErrArgument, "side-network weights are for transfer sidetune only");
  side_.load_alexnet(weights, path);
  side_loaded_ = true;
}

bool PromptedVit::trains_backbone() const {
  const Transfer t = config_.transfer;
  return t == Transfer::Full || t == Transfer::Partial || t == Transfer::Bias;
}

void PromptedVit::load_backbone(const TensorMap& weights) {
  NamedTensors expected = vit_.named_tensors();
  // Google layouts become timm's; pos_embed is resampled to the grid the model runs at.
  const TensorMap checkpoint = vit_.adapt_checkpoint(weights);
  // The checkpoint's classifier (and a distilled DeiT's head_dist) is dropped: the task gets its own head.
  check_fit(expected, checkpoint, "the weights do not fit the model", kErrWeights,
            VisionTransformer::is_checkpoint_head);
  for (auto& t : expected) *t.slot = checkpoint.at(t.name);
  place_if(
      expected, device_, [this](const std::string& name) { return backbone_tensor_trains(config_, name); },
      config_.bf16_backbone);
  if (prompts_.enabled() && config_.prompt.location == PromptLocation::kBelow && !below_seeded_) {
    // Once: a trainable state imported since (or a backbone loaded again) keeps its own.
    prompts_.seed_below_patch_embedding(vit_.patch_weight(), vit_.patch_bias());
    below_seeded_ = true;
  }
  backbone_loaded_ = true;
  backbone_shared_ = false;
  ++generation_;
}

void PromptedVit::check_images(const at::Tensor& images) const {
  const auto& v = config_.vit;
  const int64_t S = input_size_;  // the backbone's, or before pad grows it
  if (images.dim() != 4 || images.size(1) != v.in_chans || images.size(2) != S || images.size(3) != S ||
      images.size(0) < 1) {
    throw Error(kErrShape, "images have shape " + shape_string(images.sizes()) + ", the model needs [n, " +
                               std::to_string(v.in_chans) + ", " + std::to_string(S) + ", " + std::to_string(S) + "]");
  }
  if (!backbone_loaded_) throw Error(kErrWeights, "the backbone weights are not loaded");
  if (side_.enabled() && !side_loaded_)
    throw Error(kErrWeights, "transfer sidetune: the side network's AlexNet weights are not loaded");
}

at::Tensor PromptedVit::embed_images(const at::Tensor& images) const {
  const at::Tensor x = images.to(device_, at::kFloat);
  if (!prompts_.enabled()) return vit_.embed(x);
  switch (config_.prompt.location) {
    case PromptLocation::kPad:
      return vit_.embed(prompts_.pad_images(x));
    case PromptLocation::kBelow:
      return vit_.embed(prompts_.below_images(x), prompts_.below_patch_weight(), prompts_.below_patch_bias());
    default:
      return vit_.embed(x);
  }
}

at::Tensor PromptedVit::prompt_rows(int64_t set, int64_t batch, at::Generator* rng) const {
  if (!is_pixel_prepend(config_.prompt.location)) return prompts_.tokens_for_block(set, batch, rng);
  // The pixel prompts through the backbone's patch embedding (no dropout, as in KMnP/vpt): (B, N, D).
  return vit_.patch_tokens(prompts_.pixel_prompts()).to(at::kFloat).expand({batch, -1, -1});
}

at::Tensor PromptedVit::encode(const at::Tensor& images, bool train) {
  check_images(images);
  // The residual stream stays fp32 (as under autocast with fp32 weights) when the weights are bf16.
  at::Tensor x = embed_images(images).to(at::kFloat);  // (B, prefix + P, D)
  return encode_from(x, 0, train);
}

at::Tensor PromptedVit::encode_from(at::Tensor x, int64_t first, bool train) {
  const int64_t B = x.size(0);
  at::Generator* rng = train ? &dropout_rng_ : nullptr;
  x = apply_prompt_step(first, x, rng);  // (B, prefix [+ N] + P, D)
  // Checkpointed blocks get no gradients for their own tensors: not when the backbone or adapters train.
  if (!config_.checkpoint_blocks || trains_backbone() || config_.transfer == Transfer::Adapter)
    return run_blocks(x, rng, first);
  // Checkpointed blocks take the stream whole: the prompts go in between them, or as key /
  // value rows alongside it.
  for (int64_t i = first; i < config_.vit.depth; ++i) {
    const auto& step = schedule_.blocks[static_cast<size_t>(i)];
    if (i > first) x = apply_prompt_step(i, x, rng);
    x = step.kv
            ? checkpointed_block(vit_, i, x, queries_of(i), device_.type(), backbone_autocast(), kv_prompts(i, B, rng))
            : checkpointed_block(vit_, i, x, queries_of(i), device_.type(), backbone_autocast());
  }
  return x;  // (B, T, D), without the prompt rows after kv blocks, or (B, 1, D) with token pooling
}

at::Tensor PromptedVit::apply_prompt_step(int64_t block, const at::Tensor& x, at::Generator* rng) const {
  using Step = PromptSchedule::Step;
  const auto& b = schedule_.blocks[static_cast<size_t>(block)];
  if (b.step == Step::kKeep) return x;
  if (b.step == Step::kAdd) return x + prompts_.tokens_for_block(b.set, x.size(0), rng);  // (B, N or 1, D)
  const int64_t prefix = config_.vit.num_prefix_tokens(), N = prompts_.tokens();
  const int64_t rest = b.step == Step::kInsert ? prefix : prefix + N;  // where the image rows start
  std::vector<at::Tensor> parts = {x.narrow(1, 0, prefix)};
  if (b.step != Step::kRemove) parts.push_back(prompt_rows(b.set, x.size(0), rng));
  parts.push_back(x.narrow(1, rest, x.size(1) - rest));
  return at::cat(parts, 1);
}

at::Tensor PromptedVit::run_blocks(const at::Tensor& x, at::Generator* rng, int64_t first) {
  using Step = PromptSchedule::Step;
  const int64_t B = x.size(0), prefix = config_.vit.num_prefix_tokens();
  const bool fused = config_.fused_norm;
  AddNorm in = vit_.block_input(first, x, at::Tensor(), at::Tensor(), 0, fused);
  at::Tensor y, m;  // block i's output is y + m
  for (int64_t i = first; i < config_.vit.depth; ++i) {
    const auto& b = schedule_.blocks[static_cast<size_t>(i)];
    if (i > first && b.step == Step::kReplace) {
      // The insertion runs inside the add + LayerNorm (one op with fused_norm).
      in = vit_.block_input(i, y, m, prompts_.tokens_for_block(b.set, B, rng), prefix, fused);
    } else if (i > first && b.step == Step::kKeep) {
      in = vit_.block_input(i, y, m, at::Tensor(), 0, fused);
    } else if (i > first && b.step == Step::kAdd) {
      in = vit_.block_input(i, y, m + prompts_.tokens_for_block(b.set, B, rng), at::Tensor(), 0, fused);
    } else if (i > first) {
      // The stream changes length here (rows inserted or dropped): add, then concatenate.
      in = vit_.block_input(i, apply_prompt_step(i, y + m, rng), at::Tensor(), at::Tensor(), 0, fused);
    }
    // kv blocks: the prompts' norm1 (no residual: nothing of theirs carries over), keys and values only.
    const at::Tensor kv_h =
        b.kv ? vit_.block_input(i, kv_prompts(i, B, rng), at::Tensor(), at::Tensor(), 0, fused).normed : at::Tensor();
    std::tie(y, m) = vit_.block_forward_normed(i, in.sum, in.normed, queries_of(i), fused, kv_h);
  }
  return y + m;  // (B, T, D), without the prompt rows after kv blocks, or (B, 1, D) with token pooling
}

at::Tensor PromptedVit::kv_prompts(int64_t block, int64_t batch, at::Generator* rng) const {
  const int64_t set = schedule_.blocks[static_cast<size_t>(block)].set;
  at::Tensor p = prompts_.tokens_for_block(set, batch, rng);  // (B, N, D)
  // Without dropout every sample has the same prompts (an expanded (1, N, D)): their norm,
  // keys and values are computed once and broadcast (autograd sums their gradients).
  return batch > 1 && p.stride(0) == 0 ? p.narrow(0, 0, 1) : p;
}

int64_t PromptedVit::queries_of(int64_t block) const {
  // Token pooling reads only the CLS row of the last block: compute just that row there.
  const bool last = block == config_.vit.depth - 1;
  const bool token = config_.vit.global_pool == "token" && config_.prompt.pool == PromptPool::kOriginal;
  return last && token ? (config_.vit.dist_token ? 2 : 1) : -1;
}

at::Tensor PromptedVit::features(const at::Tensor& images, bool train) {
  at::Tensor vit_features;
  {
    compat::AutocastGuard autocast(device_.type(), backbone_autocast());
    vit_features = pool_encoded(encode(images, train));
  }
  if (!side_.enabled()) return vit_features;
  // Side-tuning: AlexNet on the same normalised images, mixed in by sigmoid(alpha).
  compat::AutocastGuard autocast(device_.type(), config_.bf16);
  return side_.mix(vit_features, side_.forward(images.to(device_, at::kFloat))).to(at::kFloat);
}

at::Tensor PromptedVit::cls_layerwise(const at::Tensor& images) {
  check_images(images);
  if (!config_.vit.class_token) throw Error(kErrArgument, "the backbone has no class token to take embeddings of");
  if (prompts_.enabled() && config_.prompt.location == PromptLocation::kPad)
    throw Error(kErrArgument, "prompt location pad runs the backbone at the padded size: no prompt-free embeddings");
  at::NoGradGuard no_grad;
  compat::AutocastGuard autocast(device_.type(), backbone_autocast());
  at::Tensor x = vit_.embed(images.to(device_, at::kFloat)).to(at::kFloat);
  std::vector<at::Tensor> cls = {x.select(1, 0)};
  for (int64_t i = 0; i < config_.vit.depth; ++i) {
    x = vit_.block_forward(i, x).to(at::kFloat);
    cls.push_back(x.select(1, 0));
  }
  return at::stack(cls, 1);  // (B, L + 1, D)
}

int64_t PromptedVit::stem_blocks() const {
  if (config_.transfer != Transfer::Prompt) return 0;
  // pad / below prompt the image: every block sees them.
  if (prompts_.enabled() && is_input_prompt(config_.prompt.location)) return 0;
  int64_t n = 0;
  for (const auto& b : schedule_.blocks) {
    if (b.set >= 0 || b.rows) break;
    ++n;
  }
  return n == config_.vit.depth ? 0 : n;  // a model without prompts has no stem to split off
}

at::Tensor PromptedVit::stem(const at::Tensor& images) {
  check_images(images);
  const int64_t n = stem_blocks();
  if (n == 0) throw Error(kErrArgument, "this model has no prompt-free frozen blocks below its prompts to cache");
  at::NoGradGuard no_grad;
  compat::AutocastGuard autocast(device_.type(), backbone_autocast());
  at::Tensor x = vit_.embed(images.to(device_, at::kFloat)).to(at::kFloat);
  for (int64_t i = 0; i < n; ++i) x = vit_.block_forward(i, x).to(at::kFloat);
  return x;  // (B, prefix + P, D)
}

at::Tensor PromptedVit::logits_from_stem(const at::Tensor& hidden, bool train) {
  const auto& v = config_.vit;
  const int64_t n = stem_blocks();
  const int64_t T = v.num_prefix_tokens() + v.num_patches();
  if (n == 0) throw Error(kErrArgument, "this model has no prompt-free frozen blocks below its prompts to cache");
  if (hidden.dim() != 3 || hidden.size(1) != T || hidden.size(2) != v.embed_dim || hidden.size(0) < 1) {
    throw Error(kErrShape, "stem features have shape " + shape_string(hidden.sizes()) + ", the model needs [n, " +
                               std::to_string(T) + ", " + std::to_string(v.embed_dim) + "]");
  }
  if (!backbone_loaded_) throw Error(kErrWeights, "the backbone weights are not loaded");
  at::Tensor features;
  {
    compat::AutocastGuard autocast(device_.type(), backbone_autocast());
    features = pool_encoded(encode_from(hidden.to(device_, at::kFloat), n, train));
  }
  return classify(features, train);
}

at::Tensor PromptedVit::pool_encoded(const at::Tensor& x) const {
  const int64_t prefix = config_.vit.num_prefix_tokens();
  // Where the image rows start: the stream may have left the prompt rows out.
  const int64_t image = prefix + (schedule_.rows_out() ? prompts_.tokens() : 0);
  switch (config_.prompt.tokens > 0 ? config_.prompt.pool : PromptPool::kOriginal) {
    case PromptPool::kImage:
      return vit_.pool_rows(x, image, x.size(1) - image).to(at::kFloat);
    case PromptPool::kPrompt:
      return vit_.pool_rows(x, prefix, prompts_.tokens()).to(at::kFloat);
    case PromptPool::kImagePrompt:
      return vit_.pool_rows(x, prefix, x.size(1) - prefix).to(at::kFloat);
    case PromptPool::kOriginal:
      break;
  }
  // Average and MAP pooling skip the prefix and (unless poolPrompts) the prompt rows.
  return vit_.pool(x, config_.pool_prompts ? prefix : image).to(at::kFloat);
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

at::Tensor PromptedVit::classify(const at::Tensor& features, bool train) {
  compat::AutocastGuard autocast(device_.type(), config_.bf16);
  return head_.forward(features, train, train ? &dropout_rng_ : nullptr).to(at::kFloat);
}

at::Tensor PromptedVit::logits(const at::Tensor& images, bool train) {
  return classify(features(images, train), train);
}

NamedTensors PromptedVit::trainable_tensors() {
  NamedTensors out;
  if (config_.transfer != Transfer::Linear) out = prompts_.named_tensors();
  if (trains_backbone()) {
    for (auto& t : vit_.named_tensors()) {
      if (backbone_tensor_trains(config_, t.name)) out.push_back(t);
    }
  }
  NamedTensors adapters = vit_.adapter_tensors();
  out.insert(out.end(), adapters.begin(), adapters.end());
  NamedTensors side = side_.named_tensors();
  out.insert(out.end(), side.begin(), side.end());
  NamedTensors head = head_.named_tensors();
  out.insert(out.end(), head.begin(), head.end());
  return out;
}

NamedTensors PromptedVit::state_tensors() {
  NamedTensors out = trainable_tensors();
  NamedTensors stats = head_.named_buffers();
  out.insert(out.end(), stats.begin(), stats.end());
  return out;
}

TensorMap PromptedVit::export_trainable() {
  TensorMap out;
  for (auto& t : state_tensors()) out[t.name] = t.slot->detach().to(at::kCPU, at::kFloat).contiguous();
  return out;
}

void PromptedVit::check_trainable(const TensorMap& tensors) {
  check_fit(state_tensors(), tensors, "the trainable state does not fit the model", kErrShape,
            [](const std::string&) { return false; });
}

void PromptedVit::import_trainable(const TensorMap& tensors) {
  check_trainable(tensors);
  at::NoGradGuard no_grad;
  for (auto& t : state_tensors()) t.slot->copy_(tensors.at(t.name));
  below_seeded_ = true;  // below: a later load_backbone keeps the imported patch embedding
  side_loaded_ = true;   // sidetune: the state holds the whole side network
}

int64_t PromptedVit::trainable_params() {
  int64_t n = 0;
  for (auto& t : trainable_tensors()) n += numel_of(t.shape);
  return n;
}

NamedTensors PromptedVit::all_tensors() {
  NamedTensors out = vit_.named_tensors();
  for (auto& part : {vit_.adapter_tensors(), prompts_.named_tensors(), side_.named_tensors(), head_.named_tensors()})
    out.insert(out.end(), part.begin(), part.end());
  return out;
}

int64_t PromptedVit::total_params() {
  int64_t n = 0;
  for (auto& t : all_tensors()) n += numel_of(t.shape);
  return n;
}

int64_t PromptedVit::backbone_bytes() { return vit_.bytes(); }

}  // namespace vpt
