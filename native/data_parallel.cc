// data_parallel.cc — see data_parallel.h.
#include "data_parallel.h"

namespace vpt {

namespace {

constexpr int64_t kStatSlots = 4;  // loss * B, correct, B, stop

at::Tensor flatten_into(const std::vector<at::Tensor>& tensors, const at::Device& device, double scale,
                        int64_t extra) {
  std::vector<at::Tensor> parts;
  parts.reserve(tensors.size() + 1);
  for (const auto& t : tensors) parts.push_back(t.detach().reshape({-1}).to(device, at::kFloat) * scale);
  parts.push_back(at::zeros({extra}, at::TensorOptions(device).dtype(at::kFloat)));
  return at::cat(parts);
}

void unflatten_from(const at::Tensor& flat, const std::vector<at::Tensor>& tensors, double scale) {
  int64_t offset = 0;
  at::NoGradGuard no_grad;
  for (const auto& t : tensors) {
    const int64_t n = t.numel();
    t.copy_(flat.narrow(0, offset, n).view(t.sizes()).to(t.device(), t.scalar_type()) * scale);
    offset += n;
  }
}

}  // namespace

GlobalStep all_reduce_step(DistributedGroup& group, const std::vector<at::Tensor>& grads, double loss,
                           int64_t correct, int64_t count, bool stop_vote) {
  const double b = static_cast<double>(count);
  at::Tensor flat = flatten_into(grads, group.device(), b, kStatSlots);
  const int64_t stats = flat.numel() - kStatSlots;
  // Counts are integers far below 2^24, exact in fp32.
  flat.narrow(0, stats, kStatSlots)
      .copy_(at::tensor({b * loss, static_cast<double>(correct), b, stop_vote ? 1.0 : 0.0}, at::kDouble)
                 .to(flat.device(), at::kFloat));
  group.allreduce_sum(flat);
  const at::Tensor totals = flat.narrow(0, stats, kStatSlots).to(at::kCPU, at::kDouble);
  const double* s = totals.data_ptr<double>();
  GlobalStep g;
  g.count = static_cast<int64_t>(s[2]);
  g.loss = g.count > 0 ? s[0] / s[2] : 0.0;
  g.correct = static_cast<int64_t>(s[1]);
  g.stop = s[3] > 0;
  unflatten_from(flat, grads, g.count > 0 ? 1.0 / s[2] : 0.0);
  return g;
}

void broadcast_from_rank0(DistributedGroup& group, const NamedTensors& tensors) {
  std::vector<at::Tensor> values;
  for (const auto& t : tensors) values.push_back(*t.slot);
  if (values.empty()) return;
  at::Tensor flat = flatten_into(values, group.device(), 1.0, 0);
  group.broadcast(flat, /*root=*/0);
  unflatten_from(flat, values, 1.0);
}

}  // namespace vpt
