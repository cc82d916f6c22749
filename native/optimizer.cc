// optimizer.cc — see optimizer.h.
#include "optimizer.h"

#include <cmath>

#include "errors.h"

namespace vpt {

bool exempt_from_weight_decay(const NamedTensor& t) {
  const std::string& n = t.name;
  const bool bias = n.size() >= 5 && n.compare(n.size() - 5, 5, ".bias") == 0;
  return bias || t.shape.size() <= 1 || n == "cls_token" || n == "reg_token" || n == "pos_embed";
}

void Optimizer::step(const NamedTensors& params) {
  at::NoGradGuard no_grad;
  ++step_;
  const auto& c = config_;
  for (const auto& t : params) {
    at::Tensor& p = *t.slot;
    const at::Tensor& grad = p.grad();
    if (!grad.defined()) continue;
    const double wd = exempt_from_weight_decay(t) ? 0.0 : c.weight_decay;
    if (c.kind == "sgd") {
      at::Tensor g = wd != 0.0 ? grad.add(p, wd) : grad;
      if (c.momentum != 0.0) {
        auto it = momentum_.find(t.name);
        if (it == momentum_.end()) {
          it = momentum_.emplace(t.name, g.clone()).first;
        } else {
          it->second.mul_(c.momentum).add_(g);
        }
        g = c.nesterov ? g.add(it->second, c.momentum) : it->second;
      }
      p.add_(g, -c.lr);
    } else {
      if (wd != 0.0) p.mul_(1.0 - c.lr * wd);
      auto& m = exp_avg_.try_emplace(t.name, at::zeros_like(p)).first->second;
      auto& v = exp_avg_sq_.try_emplace(t.name, at::zeros_like(p)).first->second;
      m.lerp_(grad, 1.0 - c.beta1);
      v.mul_(c.beta2).addcmul_(grad, grad, 1.0 - c.beta2);
      const double bias_correction1 = 1.0 - std::pow(c.beta1, static_cast<double>(step_));
      const double bias_correction2 = 1.0 - std::pow(c.beta2, static_cast<double>(step_));
      at::Tensor denom = (v.sqrt() / std::sqrt(bias_correction2)).add_(c.eps);
      p.addcdiv_(m, denom, -c.lr / bias_correction1);
    }
  }
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
      for (const auto& t : params) if (t.name == name) param = &t;
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
}

}  // namespace vpt
