// data_parallel.h — what makes N ranks on batch b train exactly like one process on batch N*b.
//
// Each step, every rank contributes one flat fp32 buffer:
//   [ B_r * grad_1, ..., B_r * grad_k, B_r * loss_r, correct_r, B_r, stop_r ]
// summed over ranks in a single all-reduce; dividing the gradient part by sum(B_r) gives the
// gradient of the global batch's mean loss (VPT's loss is sum_i w_i CE_i / B, so each rank's
// gradient weighs by its share of the batch, also with class weights). Loss and correct count
// become the global batch's; `stop` is any rank's request to stop after this step (Ctrl-C on
// one rank stops all of them at the same step).
#pragma once

#include <torch/torch.h>

#include <vector>

#include "named_tensor.h"
#include "process_group.h"

namespace vpt {

struct GlobalStep {
  double loss = 0;
  int64_t correct = 0;
  int64_t count = 0;
  bool stop = false;
};

// Replaces `grads` (one per trainable tensor, all defined) by their global-batch average.
GlobalStep all_reduce_step(DistributedGroup& group, const std::vector<at::Tensor>& grads, double loss,
                           int64_t correct, int64_t count, bool stop_vote);

// Every rank's trainable tensors become rank 0's (run once when a rank joins, as DDP does).
void broadcast_from_rank0(DistributedGroup& group, const NamedTensors& tensors);

}  // namespace vpt
