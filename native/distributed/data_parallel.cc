// data_parallel.cc — see data_parallel.h.
#include "distributed/data_parallel.h"

namespace vpt {

namespace {

constexpr int64_t kStatSlots = 4;  // loss * B, correct, B, stop

at::Tensor flatten_into(const std::vector<at::Tensor>& tensors, const at::Device& device, double scale, int64_t extra) {
  std::vector<at::Tensor> parts;
  parts.reserve(tensors.size() + 1);
  for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(device, at::kFloat) * scale);
  parts.push_back(at::zeros({extra}, at::TensorOptions(device).dtype(at::kFloat)));
  return at::cat(parts);
}

// Copies the parts of `flat` back into `tensors`, divided by `divisor` (a scalar tensor).
void unflatten_from(const at::Tensor& flat, const std::vector<at::Tensor>& tensors, const at::Tensor& divisor) {
  int64_t offset = 0;
  at::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    at::Tensor part = flat.narrow(0, offset, n).view(t.sizes());
    if (divisor.defined()) part = part / divisor;
    t.copy_(part.to(t.device(), t.scalar_type(), /*non_blocking=*/true));
    offset += n;
  }
}

}  // namespace

GlobalStep all_reduce_step(DistributedGroup& group, const std::vector<at::Tensor>& grads, const at::Tensor& loss,
                           const at::Tensor& correct, int64_t count, bool stop_vote) {
  const double b = static_cast<double>(count);
  at::Tensor flat = flatten_into(grads, group.device(), b, kStatSlots);
  const int64_t stats = flat.numel() - kStatSlots;
  // Counts are integers far below 2^24, exact in fp32.
  const auto f32 = at::TensorOptions(flat.device()).dtype(at::kFloat);
  flat.narrow(0, stats, kStatSlots)
      .copy_(at::stack({loss.detach().to(flat.device(), at::kFloat) * b, correct.to(flat.device(), at::kFloat),
                        at::full({}, b, f32), at::full({}, stop_vote ? 1.0 : 0.0, f32)}));
  group.allreduce_sum(flat);
  const at::Device device = grads.empty() ? loss.device() : grads.front().device();
  const at::Tensor totals = flat.narrow(0, stats, kStatSlots).to(device);
  GlobalStep g;
  g.count = totals.select(0, 2);
  g.loss = totals.select(0, 0) / g.count;
  g.correct = totals.select(0, 1);
  g.stop = totals.select(0, 3);
  unflatten_from(flat, grads, g.count.to(flat.device()));
  return g;
}

void broadcast_from_rank0(DistributedGroup& group, const NamedTensors& tensors) {
  std::vector<at::Tensor> values;
  for (const auto& t : tensors) values.push_back(*t.slot);
  if (values.empty()) return;
  at::Tensor flat = flatten_into(values, group.device(), 1.0, 0);
  group.broadcast(flat, /*root=*/0);
  unflatten_from(flat, values, at::Tensor());
}

}  // namespace vpt
