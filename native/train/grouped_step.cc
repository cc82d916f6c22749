// grouped_step.cc — see grouped_step.h.
#include "train/grouped_step.h"

#include "model/grouped_forward.h"

namespace vpt {

namespace {

std::vector<PromptedVit*> models_of(const std::vector<std::shared_ptr<Trainer>>& trainers) {
  std::vector<PromptedVit*> models;
  for (const auto& t : trainers) models.push_back(t->model().get());
  return models;
}

}  // namespace

std::string grouped_step_unsupported(const std::vector<std::shared_ptr<Trainer>>& trainers) {
  for (size_t g = 0; g < trainers.size(); ++g) {
    if (trainers[g]->data_parallel())
      return "model " + std::to_string(g) + ": data-parallel steps all-reduce each model's gradients";
  }
  return GroupedForward::unsupported(models_of(trainers));
}

std::vector<GroupedStepOutcome> grouped_train_step(const std::vector<std::shared_ptr<Trainer>>& trainers,
                                                   const at::Tensor& images, const at::Tensor& labels) {
  const std::string why = grouped_step_unsupported(trainers);
  if (!why.empty()) throw Error(kErrArgument, "these models cannot step together: " + why);
  const std::vector<PromptedVit*> models = models_of(trainers);
  std::vector<at::Tensor> ys;
  for (PromptedVit* m : models)
    ys.push_back(prepare_labels(labels, images.size(0), m->config().num_classes, m->device()));
  const at::Tensor x = images.to(models[0]->device(), at::kFloat);
  std::vector<at::Tensor> logits, losses;
  try {
    logits = GroupedForward::train_logits(models, x);
    for (size_t g = 0; g < models.size(); ++g)
      losses.push_back(weighted_cross_entropy(logits[g], ys[g], models[g]->class_weights()));
    at::stack(losses).sum().backward();
  } catch (...) {
    // Nothing applied: leave no gradients behind either.
    for (PromptedVit* m : models) {
      for (auto& t : m->trainable_tensors()) t.slot->mutable_grad().reset();
    }
    throw;
  }
  std::vector<GroupedStepOutcome> out(trainers.size());
  for (size_t g = 0; g < trainers.size(); ++g) {
    try {
      trainers[g]->prepare();
      out[g].result = trainers[g]->finish_step(trainers[g]->update(losses[g], logits[g], ys[g]));
    } catch (...) {
      out[g].error = describe_current_exception();
      for (auto& t : models[g]->trainable_tensors()) t.slot->mutable_grad().reset();
    }
  }
  return out;
}

}  // namespace vpt
