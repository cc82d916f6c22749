// swin_trainer.h — the training step of the prompted Swin (model/prompted_swin.h): forward
// (prompt dropout on), class-weighted cross-entropy (trainer.h's weighted_cross_entropy),
// backward into the trainable tensors, optional global-norm clipping, the shared optimizer
// (optimizer.h). Non-finite steps are skipped and counted, as trainer.h's Trainer does. Eager
// only: no CUDA graphs, no data-parallel group, no cached stem features.
#pragma once

#include <ATen/ATen.h>

#include <memory>

#include "model/prompted_swin.h"
#include "train/optimizer.h"
#include "train/trainer.h"

namespace vpt {

class SwinTrainer {
 public:
  SwinTrainer(std::shared_ptr<PromptedSwin> model, const OptimizerConfig& config, double clip_grad_norm,
              int64_t max_nonfinite);

  TrainStepResult step(const at::Tensor& images, const at::Tensor& labels);
  // Linear probing on precomputed features (B, C_last): the head-only step.
  TrainStepResult step_features(const at::Tensor& features, const at::Tensor& labels);
  void set_lr(double lr) { optimizer_.set_lr(lr); }
  Optimizer& optimizer() { return optimizer_; }
  int64_t nonfinite_total() const { return nonfinite_total_; }
  int64_t nonfinite_streak() const { return nonfinite_streak_; }
  void restore_counters(int64_t total, int64_t streak) {
    nonfinite_total_ = total;
    nonfinite_streak_ = streak;
  }

 private:
  // Loss, backward, clipping, the optimizer update and the statistics, for logits of the model.
  TrainStepResult update(const at::Tensor& logits, const at::Tensor& y);

  std::shared_ptr<PromptedSwin> model_;
  Optimizer optimizer_;
  double clip_grad_norm_;
  int64_t max_nonfinite_;
  int64_t nonfinite_total_ = 0;
  int64_t nonfinite_streak_ = 0;
};

EvalResult evaluate(PromptedSwin& model, const at::Tensor& images, const at::Tensor& labels, bool keep_logits);

}  // namespace vpt
