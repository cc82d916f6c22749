// grouped_step.h — one train step for a group of models that share a frozen backbone: the
// stacked group step of `vpt-native tune`.
//
//   for each model g: its optimizer prepares the step (its own learning rate)
//   logits_g = GroupedForward::train_logits(models, images)[g]     one stacked forward
//   loss = sum_g weighted_cross_entropy(logits_g, y, class weights of g); loss.backward()
//   for each model g: Trainer::update (clipping, its optimizer's update), then finish
//
// The models' trainable tensors are disjoint and the backbone is frozen, so the backward of
// the sum gives each model exactly the gradient of its own loss: each model's step equals its
// Trainer::step on the same batch (within float rounding; see grouped_forward.h). The steps
// run eagerly (no CUDA graph replay).
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "runtime/errors.h"
#include "train/trainer.h"

namespace vpt {

struct GroupedStepOutcome {
  TrainStepResult result;
  std::optional<ErrorInfo> error;  // the step failed for this model
};

// Why the trainers' models cannot step together ("" when they can): GroupedForward's reasons,
// and data-parallel trainers. The caller holds every model's lock.
std::string grouped_step_unsupported(const std::vector<std::shared_ptr<Trainer>>& trainers);

// One step of every trainer on `images` (B, C, S, S) and `labels` (B,). Throws, the models
// unchanged, when grouped_step_unsupported() says why or the forward or backward fails (out of
// memory: the caller may step them one after another instead); a model whose own update or
// statistics fail gets its error in its outcome.
// The caller holds every model's lock.
std::vector<GroupedStepOutcome> grouped_train_step(const std::vector<std::shared_ptr<Trainer>>& trainers,
                                                   const at::Tensor& images, const at::Tensor& labels);

}  // namespace vpt
