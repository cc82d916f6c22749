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

#include <ATen/ATen.h>

#include <vector>

#include "distributed/process_group.h"
#include "model/named_tensor.h"

namespace vpt {

// The global batch's statistics as fp32 scalars on the gradients' device (read by the host
// once, with the rest of the step's results).
struct GlobalStep {
  at::Tensor loss;     // mean over the global batch
  at::Tensor correct;  // summed over ranks
  at::Tensor count;    // global batch size
  at::Tensor stop;     // > 0 when some rank voted to stop
};

// Replaces `grads` (one per trainable tensor, all defined) by their global-batch average.
// `loss` and `correct` are this rank's, as device scalars.
GlobalStep all_reduce_step(DistributedGroup& group, const std::vector<at::Tensor>& grads, const at::Tensor& loss,
                           const at::Tensor& correct, int64_t count, bool stop_vote);

// Every rank's trainable tensors become rank 0's (run once when a rank joins, as DDP does).
void broadcast_from_rank0(DistributedGroup& group, const NamedTensors& tensors);

}  // namespace vpt
