// swin_trainer.cc — see swin_trainer.h.
#include "train/swin_trainer.h"

#include <string>
#include <vector>

#include "runtime/errors.h"

namespace vpt {

SwinTrainer::SwinTrainer(std::shared_ptr<PromptedSwin> model, const OptimizerConfig& config, double clip_grad_norm,
                         int64_t max_nonfinite)
    : model_(std::move(model)), optimizer_(config), clip_grad_norm_(clip_grad_norm), max_nonfinite_(max_nonfinite) {}

TrainStepResult SwinTrainer::step(const at::Tensor& images, const at::Tensor& labels) {
  PromptedSwin& m = *model_;
  const at::Tensor y = prepare_labels(labels, images.size(0), m.config().num_classes, m.device());
  optimizer_.prepare(m.device());
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

TrainStepResult SwinTrainer::step_features(const at::Tensor& features, const at::Tensor& labels) {
  PromptedSwin& m = *model_;
  if (m.config().transfer != Transfer::Linear) {
    throw Error(kErrArgument, "training on precomputed features is linear probing only (transfer 'linear')");
  }
  const int64_t D = m.config().swin.num_features();
  if (features.dim() != 2 || features.size(1) != D) {
    throw Error(kErrShape,
                "features have shape " + shape_string(features.sizes()) + ", expected [n, " + std::to_string(D) + "]");
  }
  const at::Tensor y = prepare_labels(labels, features.size(0), m.config().num_classes, m.device());
  optimizer_.prepare(m.device());
  return update(m.classify(features.to(m.device(), at::kFloat)), y);
}

TrainStepResult SwinTrainer::update(const at::Tensor& logits, const at::Tensor& y) {
  PromptedSwin& m = *model_;
  NamedTensors params = m.trainable_tensors();
  const at::Tensor loss = weighted_cross_entropy(logits, y, m.class_weights());
  loss.backward();

  at::NoGradGuard no_grad;
  std::vector<at::Tensor> grads;
  for (auto& t : params)
    if (t.slot->grad().defined()) grads.push_back(t.slot->grad());
  const auto f32 = at::TensorOptions(m.device()).dtype(at::kFloat);
  const at::Tensor mean_loss = loss.detach().to(at::kFloat);
  const at::Tensor norm = grads.empty() ? at::zeros({}, f32)
                                        : at::linalg_vector_norm(at::stack(at::_foreach_norm(grads)), 2).to(at::kFloat);
  const at::Tensor applied = at::isfinite(mean_loss).logical_and(at::isfinite(norm));
  const at::Tensor scale = clip_grad_norm_ > 0 ? (clip_grad_norm_ / (norm + 1e-6)).clamp_max(1.0) : at::ones({}, f32);
  optimizer_.step(params, applied, scale);
  for (auto& t : params) t.slot->mutable_grad().reset();
  const at::Tensor stats =
      at::stack({mean_loss, logits.detach().argmax(1).eq(y).sum().to(at::kFloat), norm, applied.to(at::kFloat)})
          .to(at::kCPU, at::kDouble);
  const double* s = stats.data_ptr<double>();
  TrainStepResult r;
  r.loss = s[0];
  r.correct = static_cast<int64_t>(s[1]);
  r.grad_norm = s[2];
  r.skipped = s[3] == 0;
  r.count = y.size(0);
  optimizer_.commit(!r.skipped);
  if (r.skipped) {
    ++nonfinite_total_;
    if (++nonfinite_streak_ >= max_nonfinite_) {
      throw Error(kErrNonFinite, "loss or gradient was not finite for " + std::to_string(nonfinite_streak_) +
                                     " steps in a row; lower the learning rate");
    }
  } else {
    nonfinite_streak_ = 0;
  }
  return r;
}

EvalResult evaluate(PromptedSwin& model, const at::Tensor& images, const at::Tensor& labels, bool keep_logits) {
  c10::InferenceMode inference;
  const at::Tensor y = prepare_labels(labels, images.size(0), model.config().num_classes, model.device());
  const at::Tensor logits = model.logits(images, /*train=*/false);
  EvalResult r;
  r.count = y.size(0);
  const int64_t k = std::min<int64_t>(5, logits.size(1));
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
