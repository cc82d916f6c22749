// trainer.cc — see trainer.h.
#include "train/trainer.h"

#include <cmath>

#include "distributed/data_parallel.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

// Warm-up steps run eagerly on the graph's stream before a capture (as PyTorch's CUDA-graph
// notes advise: lazy initialisation and allocator pools settle outside the capture).
constexpr int64_t kGraphWarmupSteps = 3;

enum Stat : int64_t { kLoss, kCorrect, kGradNorm, kApplied, kCount, kStop };

}  // namespace

at::Tensor prepare_labels(const at::Tensor& labels, int64_t batch, int64_t num_classes, const at::Device& device) {
  if (labels.dim() != 1 || labels.size(0) != batch) {
    throw Error(kErrShape, "got " + std::to_string(labels.numel()) + " labels for a batch of " + std::to_string(batch));
  }
  if (labels.numel() > 0) {
    const at::Tensor host = labels.to(at::kCPU);  // JS labels are host tensors: no device sync
    const int64_t lo = host.min().item<int64_t>(), hi = host.max().item<int64_t>();
    if (lo < 0 || hi >= num_classes) {
      throw Error(kErrOption,
                  "label " + std::to_string(lo < 0 ? lo : hi) + " is outside 0.." + std::to_string(num_classes - 1));
    }
  }
  return labels.to(device, at::kLong, /*non_blocking=*/true);
}

at::Tensor weighted_cross_entropy(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& weights) {
  at::Tensor per_sample = at::cross_entropy_loss(logits.to(at::kFloat), labels, weights, at::Reduction::None);
  return per_sample.sum() / static_cast<double>(labels.size(0));
}

Trainer::Trainer(std::shared_ptr<PromptedVit> model, const OptimizerConfig& config, double clip_grad_norm,
                 int64_t max_nonfinite, bool cuda_graphs)
    : model_(std::move(model)), optimizer_(config), clip_grad_norm_(clip_grad_norm), max_nonfinite_(max_nonfinite) {
  graph_status_.requested = cuda_graphs;
}

at::Tensor Trainer::forward(const at::Tensor& images) {
  PromptedVit& m = *model_;
  if (m.config().transfer == Transfer::Linear) {
    at::Tensor features;
    {
      at::NoGradGuard no_grad;  // linear probing: the backbone runs without autograd
      features = m.features(images, /*train=*/true);
    }
    return m.classify(features, /*train=*/true);
  }
  return m.logits(images, /*train=*/true);
}

TrainStepResult Trainer::step(const at::Tensor& images, const at::Tensor& labels) {
  PromptedVit& m = *model_;
  const at::Tensor y = prepare_labels(labels, images.size(0), m.config().num_classes, m.device());
  if (graph_status_.requested) {
    graph_status_.fallback = capture_failure_.empty() ? graph_unsuitable() : capture_failure_;
    if (graph_status_.fallback.empty()) {
      const std::vector<int64_t> shape(images.sizes().begin(), images.sizes().end());
      if (!graph_ || !graph_->captured() || shape == graph_shape_) return graph_step(images, y);
      // Another shape (an epoch's last, smaller batch): eager, keeping the graph for the rest.
      graph_status_.fallback =
          "batch of shape " + shape_string(shape) + "; the graph was captured for " + shape_string(graph_shape_);
    }
  }
  optimizer_.prepare(m.device());
  return finish(launch(forward(images), y));
}

TrainStepResult Trainer::step_features(const at::Tensor& features, const at::Tensor& labels) {
  PromptedVit& m = *model_;
  if (m.config().transfer == Transfer::Prompt && features.dim() == 3) {
    // Prompt tuning from cached stem features (PromptedVit::stem): the blocks above the stem.
    const at::Tensor y = prepare_labels(labels, features.size(0), m.config().num_classes, m.device());
    if (graph_status_.requested) graph_status_.fallback = "steps on cached stem features are not captured";
    optimizer_.prepare(m.device());
    return finish(launch(m.logits_from_stem(features, /*train=*/true), y));
  }
  if (m.config().transfer != Transfer::Linear) {
    throw Error(kErrArgument, "training on precomputed features is linear probing only (transfer 'linear')");
  }
  const int64_t D = m.config().vit.embed_dim;
  if (features.dim() != 2 || features.size(1) != D) {
    throw Error(kErrShape,
                "features have shape " + shape_string(features.sizes()) + ", expected [n, " + std::to_string(D) + "]");
  }
  const at::Tensor y = prepare_labels(labels, features.size(0), m.config().num_classes, m.device());
  if (graph_status_.requested) graph_status_.fallback = "steps on cached features (linear probing) are not captured";
  optimizer_.prepare(m.device());
  return finish(launch(m.classify(features.to(m.device(), at::kFloat), /*train=*/true), y));
}

at::Tensor Trainer::launch(const at::Tensor& logits, const at::Tensor& y) {
  at::Tensor loss = weighted_cross_entropy(logits, y, model_->class_weights());
  loss.backward();
  return update(loss, logits, y);
}

at::Tensor Trainer::update(const at::Tensor& loss, const at::Tensor& logits, const at::Tensor& y) {
  PromptedVit& m = *model_;
  NamedTensors params = m.trainable_tensors();
  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (auto& t : params) {
    // Every rank must contribute the same layout, so a tensor without a gradient sends zeros.
    if (group_ && !t.slot->grad().defined()) t.slot->mutable_grad() = at::zeros_like(*t.slot);
    if (t.slot->grad().defined()) grads.push_back(t.slot->grad());
  }
  const auto f32 = at::TensorOptions(m.device()).dtype(at::kFloat);
  at::Tensor mean_loss = loss.detach().to(at::kFloat);
  at::Tensor correct = logits.detach().argmax(1).eq(y).sum().to(at::kFloat);
  at::Tensor count = at::full({}, static_cast<double>(y.size(0)), f32);
  at::Tensor stop = at::zeros({}, f32);
  if (group_) {
    const GlobalStep g = all_reduce_step(*group_, grads, mean_loss, correct, y.size(0), stop_vote_.exchange(false));
    mean_loss = g.loss;
    correct = g.correct;
    count = g.count;
    stop = g.stop;
  }
  // Global L2 norm over all gradients, as torch.nn.utils.clip_grad_norm_ computes it.
  const at::Tensor norm = grads.empty() ? at::zeros({}, f32)
                                        : at::linalg_vector_norm(at::stack(at::_foreach_norm(grads)), 2).to(at::kFloat);
  const at::Tensor applied = at::isfinite(mean_loss).logical_and(at::isfinite(norm));
  // clip_grad_norm_'s factor: max_norm / (norm + 1e-6), at most 1.
  const at::Tensor scale = clip_grad_norm_ > 0 ? (clip_grad_norm_ / (norm + 1e-6)).clamp_max(1.0) : at::ones({}, f32);
  optimizer_.step(params, applied, scale);
  for (auto& t : params) t.slot->mutable_grad().reset();
  return at::stack({mean_loss, correct, norm, applied.to(at::kFloat), count, stop});
}

TrainStepResult Trainer::finish(const at::Tensor& stats) {
  const at::Tensor host = stats.to(at::kCPU, at::kDouble);  // the step's one wait for the device
  const double* s = host.data_ptr<double>();
  TrainStepResult r;
  r.loss = s[kLoss];
  r.correct = static_cast<int64_t>(s[kCorrect]);
  r.grad_norm = s[kGradNorm];
  r.count = static_cast<int64_t>(s[kCount]);
  r.stop = s[kStop] > 0;
  r.skipped = s[kApplied] == 0;
  optimizer_.commit(!r.skipped);
  if (r.skipped) {
    ++nonfinite_total_;
    if (++nonfinite_streak_ >= max_nonfinite_) {
      throw Error(kErrNonFinite, "loss or gradient was not finite for " + std::to_string(nonfinite_streak_) +
                                     " steps in a row (last at step " +
                                     std::to_string(optimizer_.step_count() + nonfinite_total_) +
                                     "); lower the learning rate or use fp32");
    }
  } else {
    nonfinite_streak_ = 0;
  }
  return r;
}

std::string Trainer::graph_unsuitable() const {
  const PromptedVit& m = *model_;
  std::string why = StepGraph::unavailable_reason(m.device());
  if (!why.empty()) return why;
  if (m.config().prompt.dropout > 0)
    return "prompt dropout draws from the model's own generator, which a replay would not advance";
  if (m.config().head_hidden_layers > 0 && m.config().head_dropout > 0)
    return "the MLP head's dropout draws from the model's own generator, which a replay would not advance";
  if (m.config().checkpoint_blocks) return "activation checkpointing (checkpointBlocks) is not captured";
  if (group_) return "data-parallel steps all-reduce outside the graph";
  return "";
}

void Trainer::drop_graph() {
  graph_.reset();
  static_images_ = static_labels_ = static_stats_ = at::Tensor();
  warmup_steps_ = 0;
}

GraphStatus Trainer::graph_status() const {
  GraphStatus s = graph_status_;
  s.captured = graph_ && graph_->captured();
  return s;
}

TrainStepResult Trainer::graph_step(const at::Tensor& images, const at::Tensor& y) {
  PromptedVit& m = *model_;
  const std::vector<int64_t> shape(images.sizes().begin(), images.sizes().end());
  if (graph_ && (m.generation() != graph_model_generation_ || optimizer_.generation() != graph_optimizer_generation_ ||
                 (!graph_->captured() && shape != graph_shape_))) {
    // New backbone or class weights, or restored optimizer buffers: the captured addresses
    // are stale.
    drop_graph();
  }
  if (!graph_) {
    graph_ = std::make_unique<StepGraph>(m.device());
    graph_shape_ = shape;
    graph_model_generation_ = m.generation();
    graph_optimizer_generation_ = optimizer_.generation();
  }
  optimizer_.prepare(m.device());
  if (!graph_->captured()) {
    // The first applied step creates the optimizer's buffers; a capture needs them to exist.
    if (warmup_steps_ < kGraphWarmupSteps || optimizer_.step_count() == 0) {
      ++warmup_steps_;
      at::Tensor stats;
      graph_->run_eager([&]() { stats = launch(forward(images), y); });
      return finish(stats);
    }
    static_images_ = images.clone();
    static_labels_ = y.clone();
    try {
      graph_->capture([&]() { static_stats_ = launch(forward(static_images_), static_labels_); });
    } catch (...) {
      // Not tried again with this trainer; the step runs eagerly.
      capture_failure_ = "capture failed: " + describe_current_exception().message;
      graph_status_.fallback = capture_failure_;
      drop_graph();
      for (auto& t : m.trainable_tensors()) t.slot->mutable_grad().reset();
      optimizer_.prepare(m.device());
      return finish(launch(forward(images), y));
    }
    ++graph_status_.captures;
  } else {
    static_images_.copy_(images, /*non_blocking=*/true);
    static_labels_.copy_(y, /*non_blocking=*/true);
  }
  graph_->replay();
  ++graph_status_.replays;
  TrainStepResult r = finish(static_stats_);
  r.graphed = true;
  return r;
}

EvalResult evaluate(PromptedVit& model, const at::Tensor& images, const at::Tensor& labels, bool keep_logits) {
  c10::InferenceMode inference;
  const at::Tensor y = prepare_labels(labels, images.size(0), model.config().num_classes, model.device());
  at::Tensor logits = model.logits(images, /*train=*/false);
  EvalResult r;
  r.count = y.size(0);
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  // One read back of the three statistics (counts below 2^53 are exact in double).
  const at::Tensor stats = at::stack({at::cross_entropy_loss(logits, y, {}, at::Reduction::Mean).to(at::kDouble),
                                      logits.argmax(1).eq(y).sum().to(at::kDouble),
                                      std::get<1>(logits.topk(k, 1)).eq(y.unsqueeze(1)).any(1).sum().to(at::kDouble)})
                               .to(at::kCPU);
  const double* s = stats.data_ptr<double>();
  r.loss = s[0];
  r.correct1 = static_cast<int64_t>(s[1]);
  r.correct5 = static_cast<int64_t>(s[2]);
  if (keep_logits) r.logits = logits.to(at::kCPU).contiguous();
  return r;
}

}  // namespace vpt
