// optimizer.cc — see optimizer.h.
#include "train/optimizer.h"

#include <ATen/core/grad_mode.h>

#include <cmath>

#include "runtime/errors.h"

namespace vpt {

bool exempt_from_weight_decay(const NamedTensor& t) {
  const std::string& n = t.name;
  const bool bias = n.size() >= 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
  return bias || t.shape.size() <= 1 || n == "cls_token" || n == "reg_token" || n == "pos_embed";
}

void Optimizer::prepare(const at::Device& device) {
  const auto& c = config_;
  const double t = static_cast<double>(step_ + 1);
  const double step_size = c.kind == "sgd" ? c.lr : c.lr / (1.0 - std::pow(c.beta1, t));
  const double sqrt_bc2 = c.kind == "sgd" ? 1.0 : std::sqrt(1.0 - std::pow(c.beta2, t));
  const at::Tensor host = at::tensor({c.lr, step_size, sqrt_bc2}, at::kDouble).to(at::kFloat);
  if (!hyper_.defined() || hyper_.device() != device)
    hyper_ = at::empty({3}, at::TensorOptions(device).dtype(at::kFloat));
  hyper_.copy_(host, /*non_blocking=*/true);  // pageable source: staged at once, no device sync
  created_.clear();
}

void Optimizer::step(const NamedTensors& params, const at::Tensor& apply, const at::Tensor& grad_scale) {
  at::NoGradGuard no_grad;
  const auto& c = config_;
  const at::Tensor lr = hyper_.select(0, 0), step_size = hyper_.select(0, 1), sqrt_bc2 = hyper_.select(0, 2);
  for (const auto& t : params) {
    at::Tensor& p = *t.slot;
    const at::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    const double wd = exempt_from_weight_decay(t) ? 0.0 : c.weight_decay;
    const at::Tensor scaled = grad * grad_scale;
    if (c.kind == "sgd") {
      at::Tensor g = wd != 0.0 ? scaled.add(p, wd) : scaled;
      if (c.momentum != 0.0) {
        auto it = momentum_.find(t.name);
        if (it == momentum_.end()) {
          // First step: the buffer is the gradient (torch.optim.SGD); a skipped step drops it.
          it = momentum_.emplace(t.name, at::where(apply, g, at::zeros_like(g))).first;
          created_.push_back(t.name);
        } else {
          it->second.copy_(at::where(apply, it->second * c.momentum + g, it->second));
        }
        g = c.nesterov ? g.add(it->second, c.momentum) : it->second;
      }
      p.copy_(at::where(apply, p - lr * g, p));
    } else {
      auto [m_it, m_new] = exp_avg_.try_emplace(t.name, at::Tensor());
      auto [v_it, v_new] = exp_avg_sq_.try_emplace(t.name, at::Tensor());
      if (m_new) m_it->second = at::zeros_like(p);
      if (v_new) v_it->second = at::zeros_like(p);
      if (m_new || v_new) created_.push_back(t.name);
      at::Tensor& m = m_it->second;
      at::Tensor& v = v_it->second;
      const at::Tensor decayed = wd != 0.0 ? p * (1.0 - lr * wd) : p;
      const at::Tensor m1 = m.lerp(scaled, 1.0 - c.beta1);
      const at::Tensor v1 = (v * c.beta2).addcmul_(scaled, scaled, 1.0 - c.beta2);
      const at::Tensor denom = (v1.sqrt() / sqrt_bc2).add_(c.eps);
      const at::Tensor p1 = decayed - step_size * (m1 / denom);
      m.copy_(at::where(apply, m1, m));
      v.copy_(at::where(apply, v1, v));
      p.copy_(at::where(apply, p1, p));
    }
  }
}

void Optimizer::commit(bool applied) {
  if (applied) {
    ++step_;
  } else {
    for (const auto& name : created_) {
      momentum_.erase(name);
      exp_avg_.erase(name);
      exp_avg_sq_.erase(name);
    }
    if (!created_.empty()) ++generation_;
  }
  created_.clear();
}

TensorMap Optimizer::export_state() const {
  TensorMap out;
  for (const auto& [name, t] : momentum_) out["optim.momentum." + name] = t.detach().to(at::kCPU).contiguous();
  for (const auto& [name, t] : exp_avg_) out["optim.exp_avg." + name] = t.detach().to(at::kCPU).contiguous();
  for (const auto& [name, t] : exp_avg_sq_) out["optim.exp_avg_sq." + name] = t.detach().to(at::kCPU).contiguous();
  return out;
}

void Optimizer::import_state(const TensorMap& state, int64_t step, const NamedTensors& params) {
  std::map<std::string, at::Tensor> momentum, exp_avg, exp_avg_sq;
  const std::pair<const char*, std::map<std::string, at::Tensor>*> kinds[] = {
      {"optim.momentum.", &momentum}, {"optim.exp_avg.", &exp_avg}, {"optim.exp_avg_sq.", &exp_avg_sq}};
  for (const auto& [key, tensor] : state) {
    bool matched = false;
    for (const auto& [prefix, target] : kinds) {
      const std::string pre(prefix);
      if (key.rfind(pre, 0) != 0) continue;
      const std::string name = key.substr(pre.size());
      const NamedTensor* param = nullptr;
      for (const auto& t : params)
        if (t.name == name) param = &t;
      if (param == nullptr) throw Error(kErrShape, "optimizer state '" + key + "' names no trainable tensor");
      if (tensor.sizes() != param->slot->sizes()) {
        throw Error(kErrShape, "optimizer state '" + key + "' has shape " + shape_string(tensor.sizes()) +
                                   ", the tensor has " + shape_string(param->slot->sizes()));
      }
      (*target)[name] = tensor.to(param->slot->device(), at::kFloat).clone();
      matched = true;
    }
    if (!matched) throw Error(kErrShape, "unknown optimizer state '" + key + "'");
  }
  momentum_ = std::move(momentum);
  exp_avg_ = std::move(exp_avg);
  exp_avg_sq_ = std::move(exp_avg_sq);
  step_ = step;
  created_.clear();
  ++generation_;
}

}  // namespace vpt
