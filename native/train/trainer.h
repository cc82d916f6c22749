// trainer.h — one native training step: forward (prompt dropout on, backbone in eval mode),
// class-weighted softmax cross-entropy, backward into the trainable tensors only, optional
// global-norm clipping, optimizer step. Non-finite steps are skipped and counted.
//
// Loss (as VPT's SoftmaxLoss): sum_i w[y_i] * CE(logits_i, y_i) / B; with unit weights this
// is PyTorch's mean cross-entropy.
//
// A step is launched without waiting for the device (the skip decision, clipping and the
// optimizer update are device-side; see optimizer.h) and its results are read back once, at
// the end. That makes the step capturable: with CUDA graphs on, the fixed-shape step is
// captured after a few eager warm-up steps and replayed from then on; where a graph cannot be
// used (CPU, prompt dropout, activation checkpointing, data-parallel, a failed capture) the
// step runs eagerly and graph_status() says why.
#pragma once

#include <ATen/ATen.h>

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distributed/process_group.h"
#include "model/prompted_vit.h"
#include "train/optimizer.h"
#include "train/step_graph.h"

namespace vpt {

struct TrainStepResult {
  double loss = 0;
  int64_t correct = 0;
  double grad_norm = 0;
  bool skipped = false;  // non-finite loss or gradient: no update
  int64_t count = 0;     // images in the step: the global batch when data-parallel
  bool stop = false;     // data-parallel: some rank asked to stop after this step
  bool graphed = false;  // replayed from a captured CUDA graph
};

struct EvalResult {
  double loss = 0;  // mean unweighted cross-entropy
  int64_t correct1 = 0;
  int64_t correct5 = 0;
  int64_t count = 0;
  at::Tensor logits;  // (B, C), CPU fp32, when asked for
};

struct GraphStatus {
  bool requested = false;
  bool captured = false;  // a graph is captured for the current shape
  int64_t replays = 0;    // steps replayed since the trainer was configured
  int64_t captures = 0;
  std::string fallback;  // why the last step ran eagerly although graphs were requested
};

class Trainer {
 public:
  // `max_nonfinite`: this many skipped steps in a row raise VPT_NONFINITE.
  Trainer(std::shared_ptr<PromptedVit> model, const OptimizerConfig& config, double clip_grad_norm,
          int64_t max_nonfinite, bool cuda_graphs = false);

  // `images`: a normalized (B, 3, S, S) batch on the model's device.
  TrainStepResult step(const at::Tensor& images, const at::Tensor& labels);
  // Linear probing on precomputed backbone features (B, D): the head-only step. Prompt tuning
  // on cached stem features (B, T, D) (PromptedVit::stem): the blocks above the stem.
  TrainStepResult step_features(const at::Tensor& features, const at::Tensor& labels);
  void set_lr(double lr) { optimizer_.set_lr(lr); }
  Optimizer& optimizer() { return optimizer_; }
  int64_t nonfinite_total() const { return nonfinite_total_; }
  int64_t nonfinite_streak() const { return nonfinite_streak_; }
  void restore_counters(int64_t total, int64_t streak) {
    nonfinite_total_ = total;
    nonfinite_streak_ = streak;
  }
  // Data-parallel training: gradients are averaged over the group's ranks every step.
  void set_group(std::shared_ptr<DistributedGroup> group) { group_ = std::move(group); }
  // The next data-parallel step tells every rank to stop after it (see data_parallel.h).
  void vote_stop() { stop_vote_ = true; }
  GraphStatus graph_status() const;

  // The stacked group step (grouped_step.h) runs step()'s parts itself, around one backward
  // for the whole group: prepare(), then (after the loss's backward) update() and finish().
  void prepare() { optimizer_.prepare(model_->device()); }
  // launch() after its backward: clipping, the optimizer update, the statistics.
  at::Tensor update(const at::Tensor& loss, const at::Tensor& logits, const at::Tensor& labels);
  TrainStepResult finish_step(const at::Tensor& stats) { return finish(stats); }
  const std::shared_ptr<PromptedVit>& model() const { return model_; }
  bool data_parallel() const { return group_ != nullptr; }

 private:
  at::Tensor forward(const at::Tensor& images);
  // Loss, backward, clipping and the optimizer update for logits of the trainable model,
  // without a host sync. Returns [loss, correct, grad_norm, applied, count, stop] (fp32, on
  // the device) and leaves the gradients reset.
  at::Tensor launch(const at::Tensor& logits, const at::Tensor& labels);
  // Reads launch()'s statistics (the step's one host sync), counts skipped steps.
  TrainStepResult finish(const at::Tensor& stats);
  // Why the step cannot be a graph replay, or empty.
  std::string graph_unsuitable() const;
  TrainStepResult graph_step(const at::Tensor& images, const at::Tensor& labels);
  // Forgets the captured step and its static tensors (warm-up starts again).
  void drop_graph();

  std::shared_ptr<PromptedVit> model_;
  Optimizer optimizer_;
  double clip_grad_norm_;
  int64_t max_nonfinite_;
  int64_t nonfinite_total_ = 0;
  int64_t nonfinite_streak_ = 0;
  std::shared_ptr<DistributedGroup> group_;
  std::atomic<bool> stop_vote_{false};

  // CUDA graphs: the captured step, its static inputs and outputs, and what it was captured for.
  GraphStatus graph_status_;  // `captured` is derived in graph_status()
  std::unique_ptr<StepGraph> graph_;
  std::vector<int64_t> graph_shape_;
  uint64_t graph_model_generation_ = 0, graph_optimizer_generation_ = 0;
  int64_t warmup_steps_ = 0;
  std::string capture_failure_;
  at::Tensor static_images_, static_labels_, static_stats_;
};

// Checks labels against the batch and the class count: (B,) int64 on the model's device.
at::Tensor prepare_labels(const at::Tensor& labels, int64_t batch, int64_t num_classes, const at::Device& device);

// Weighted cross-entropy as described above; `weights` may be undefined.
at::Tensor weighted_cross_entropy(const at::Tensor& logits, const at::Tensor& labels, const at::Tensor& weights);

EvalResult evaluate(PromptedVit& model, const at::Tensor& images, const at::Tensor& labels, bool keep_logits);

}  // namespace vpt
