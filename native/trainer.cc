// trainer.cc — see trainer.h.
#include "trainer.h"

#include <cmath>

#include "data_parallel.h"
#include "errors.h"

namespace vpt {

at::Tensor prepare_labels(const at::Tensor& labels, int64_t batch, int64_t num_classes, const at::Device& device) {
  if (labels.dim() != 1 || labels.size(0) != batch) {
    throw Error(kErrShape, "got " + std::to_string(labels.numel()) + " labels for a batch of " + std::to_string(batch));
  }
  if (labels.numel() > 0) {
    const int64_t lo = labels.min().item<int64_t>(), hi = labels.max().item<int64_t>();
    if (lo < 0 || hi >= num_classes) {
      throw Error(kErrArgument, "label " + std::to_string(lo < 0 ? lo : hi) + " is outside 0.." +
                                    std::to_string(num_classes - 1));
    }
  }
  return labels.to(device, at::kLong);
}

at::Tensor weighted_cross_entropy(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& weights) {
  at::Tensor per_sample = at::cross_entropy_loss(logits.to(at::kFloat), labels, weights, at::Reduction::None);
  return per_sample.sum() / static_cast<double>(labels.size(0));
}

Trainer::Trainer(std::shared_ptr<PromptedVit> model, const OptimizerConfig& config, double clip_grad_norm,
                 int64_t max_nonfinite)
    : model_(std::move(model)), optimizer_(config), clip_grad_norm_(clip_grad_norm), max_nonfinite_(max_nonfinite) {}

TrainStepResult Trainer::step(const at::Tensor& images, const at::Tensor& labels) {
  PromptedVit& m = *model_;
  const at::Tensor y = prepare_labels(labels, images.size(0), m.config().num_classes, m.device());
  at::Tensor logits;
  if (m.config().transfer == Transfer::Linear) {
    at::Tensor features;
    {
      at::NoGradGuard no_grad;  // linear probing: the backbone runs without autograd
      features = m.features(images, /*train=*/true);
    }
    logits = m.classify(features);
  } else {
    logits = m.logits(images, /*train=*/true);
  }
  return update(logits, y);
}

TrainStepResult Trainer::step_features(const at::Tensor& features, const at::Tensor& labels) {
  PromptedVit& m = *model_;
  if (m.config().transfer != Transfer::Linear) {
    throw Error(kErrArgument, "training on precomputed features is linear probing only (transfer 'linear')");
  }
  const int64_t D = m.config().vit.embed_dim;
  if (features.dim() != 2 || features.size(1) != D) {
    throw Error(kErrShape, "features have shape " + shape_string(features.sizes()) + ", expected [n, " + std::to_string(D) + "]");
  }
  const at::Tensor y = prepare_labels(labels, features.size(0), m.config().num_classes, m.device());
  return update(m.classify(features.to(m.device(), at::kFloat)), y);
}

TrainStepResult Trainer::update(const at::Tensor& logits, const at::Tensor& y) {
  PromptedVit& m = *model_;
  NamedTensors params = m.trainable_tensors();
  at::Tensor loss = weighted_cross_entropy(logits, y, m.class_weights());
  loss.backward();

  std::vector<at::Tensor> grads;
  for (auto& t : params) {
    // Every rank must contribute the same layout, so a tensor without a gradient sends zeros.
    if (group_ && !t.slot->grad().defined()) t.slot->mutable_grad() = at::zeros_like(*t.slot);
    if (t.slot->grad().defined()) grads.push_back(t.slot->grad());
  }
  TrainStepResult r;
  r.loss = loss.item<double>();
  r.correct = logits.argmax(1).eq(y).sum().item<int64_t>();
  r.count = y.size(0);
  if (group_) {
    const GlobalStep g = all_reduce_step(*group_, grads, r.loss, r.correct, r.count, stop_vote_.exchange(false));
    r.loss = g.loss;
    r.correct = g.correct;
    r.count = g.count;
    r.stop = g.stop;
  }
  // Global L2 norm over all gradients, as torch.nn.utils.clip_grad_norm_ computes it.
  at::Tensor norm = grads.empty() ? at::zeros({}, at::kFloat)
                                  : at::linalg_vector_norm(at::stack(at::_foreach_norm(grads)), 2);
  r.grad_norm = norm.item<double>();

  if (!std::isfinite(r.loss) || !std::isfinite(r.grad_norm)) {
    r.skipped = true;
    ++nonfinite_total_;
    if (++nonfinite_streak_ >= max_nonfinite_) {
      for (auto& t : params) t.slot->mutable_grad().reset();
      throw Error(kErrNonFinite, "loss or gradient was not finite for " + std::to_string(nonfinite_streak_) +
                                     " steps in a row (last at step " +
                                     std::to_string(optimizer_.step_count() + nonfinite_total_) +
                                     "); lower the learning rate or use fp32");
    }
  } else {
    nonfinite_streak_ = 0;
    if (clip_grad_norm_ > 0) {
      const double scale = clip_grad_norm_ / (r.grad_norm + 1e-6);
      if (scale < 1.0) at::_foreach_mul_(grads, scale);
    }
    optimizer_.step(params);
  }
  for (auto& t : params) t.slot->mutable_grad().reset();
  return r;
}

EvalResult evaluate(PromptedVit& model, const at::Tensor& images, const at::Tensor& labels, bool keep_logits) {
  c10::InferenceMode inference;
  const at::Tensor y = prepare_labels(labels, images.size(0), model.config().num_classes, model.device());
  at::Tensor logits = model.logits(images, /*train=*/false);
  EvalResult r;
  r.count = y.size(0);
  r.loss = at::cross_entropy_loss(logits, y, {}, at::Reduction::Mean).item<double>();
  r.correct1 = logits.argmax(1).eq(y).sum().item<int64_t>();
  const int64_t k = std::min<int64_t>(5, logits.size(1));
  r.correct5 = std::get<1>(logits.topk(k, 1)).eq(y.unsqueeze(1)).any(1).sum().item<int64_t>();
  if (keep_logits) r.logits = logits.to(at::kCPU).contiguous();
  return r;
}

}  // namespace vpt
