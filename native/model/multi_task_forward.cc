// multi_task_forward.cc — see multi_task_forward.h. Shapes: B requests, L blocks, N prompt
// tokens, D width.
#include "model/multi_task_forward.h"

#include <map>
#include <set>
#include <tuple>
#include <utility>

#include "model/fit_report.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

at::Tensor index_tensor(const std::vector<int64_t>& values, const at::Device& device) {
  return at::tensor(values, at::kLong).to(device);
}

// Names every missing, mis-shaped and unexpected tensor of `tensors` against `slots` in one
// error; `ignored` names may be present without a slot.
void check_fit(const NamedTensors& slots, const TensorMap& tensors, const std::string& headline, const char* code,
               bool (*ignored)(const std::string&)) {
  std::set<std::string> names;
  FitReport report;
  for (const auto& t : slots) {
    names.insert(t.name);
    auto it = tensors.find(t.name);
    if (it == tensors.end()) {
      report.missing.push_back(t.name);
    } else if (it->second.sizes() != c10::IntArrayRef(t.shape)) {
      report.misshaped.push_back(t.name + " " + shape_string(it->second.sizes()) + " (model needs " +
                                 shape_string(t.shape) + ")");
    }
  }
  for (const auto& [name, tensor] : tensors) {
    if (!names.count(name) && !ignored(name)) report.unexpected.push_back(name);
  }
  report.throw_if_any(code, headline);
}

}  // namespace

MultiTaskVit::MultiTaskVit(const VitConfig& vit, const std::string& device)
    : vit_config_(vit), device_(parse_device(device)), vit_(vit) {}

void MultiTaskVit::load_backbone(const TensorMap& weights) {
  NamedTensors slots = vit_.named_tensors();
  const TensorMap checkpoint = vit_.adapt_checkpoint(weights);
  check_fit(slots, checkpoint, "the weights do not fit the model", kErrWeights, VisionTransformer::is_checkpoint_head);
  for (auto& t : slots) *t.slot = checkpoint.at(t.name).to(device_, at::kFloat).contiguous();
  fingerprint_ = fingerprint_backbone(slots);
  backbone_loaded_ = true;
}

int64_t MultiTaskVit::add_task(const TaskConfig& config, const TensorMap& tensors) {
  const VitConfig& v = vit_config_;
  Task task{config, std::make_unique<Prompts>(config.prompt, v.embed_dim, v.depth, v.patch_size),
            std::make_unique<Head>(v.embed_dim, config.num_classes, config.head_hidden_layers), at::Tensor()};
  NamedTensors slots = task.prompts->named_tensors();
  NamedTensors head = task.head->named_tensors();
  slots.insert(slots.end(), head.begin(), head.end());
  NamedTensors head_stats = task.head->named_buffers();  // the MLP head's BatchNorm statistics (eval mode)
  slots.insert(slots.end(), head_stats.begin(), head_stats.end());
  check_fit(slots, tensors, "the trainable state does not fit the task", kErrShape,
            [](const std::string&) { return false; });
  for (auto& t : slots) *t.slot = tensors.at(t.name).to(device_, at::kFloat).contiguous();
  if (task.prompts->enabled()) {
    c10::InferenceMode inference;
    const int64_t blocks = config.prompt.deep ? v.depth : 1;
    std::vector<at::Tensor> per_block;
    for (int64_t i = 0; i < blocks; ++i) per_block.push_back(task.prompts->tokens_for_block(i, 1, nullptr)[0]);
    task.block_prompts = at::stack(per_block).contiguous();  // (L or 1, N, D)
  }
  tasks_.push_back(std::move(task));
  return num_tasks() - 1;
}

const TaskConfig& MultiTaskVit::task_config(int64_t task) const {
  if (task < 0 || task >= num_tasks()) throw Error(kErrArgument, "no task " + std::to_string(task));
  return tasks_[static_cast<size_t>(task)].config;
}

void MultiTaskVit::check_images(const at::Tensor& images) const {
  const VitConfig& v = vit_config_;
  if (images.dim() != 4 || images.size(1) != v.in_chans || images.size(2) != v.img_size ||
      images.size(3) != v.img_size || images.size(0) < 1) {
    throw Error(kErrShape, "images have shape " + shape_string(images.sizes()) + ", the model needs [n, " +
                               std::to_string(v.in_chans) + ", " + std::to_string(v.img_size) + ", " +
                               std::to_string(v.img_size) + "]");
  }
  if (!backbone_loaded_) throw Error(kErrWeights, "the backbone weights are not loaded");
}

at::Tensor MultiTaskVit::features(const at::Tensor& images, const at::Tensor& prompts, bool deep) {
  const int64_t prefix = vit_config_.num_prefix_tokens(), depth = vit_config_.depth;
  at::Tensor x = vit_.embed(images);  // (B, prefix + P, D)
  const bool shallow = prompts.defined() && !deep;
  const bool kv_rows = prompts.defined() && deep;
  if (shallow) {
    x = at::cat({x.narrow(1, 0, prefix), prompts.select(1, 0), x.narrow(1, prefix, x.size(1) - prefix)}, 1);
  }
  AddNorm in = vit_.block_input(0, x, at::Tensor(), at::Tensor(), 0, /*fused=*/false);
  at::Tensor y, m;  // block i's output is y + m
  for (int64_t i = 0; i < depth; ++i) {
    if (i > 0) in = vit_.block_input(i, y, m, at::Tensor(), 0, /*fused=*/false);
    // Deep prompts join block i as key / value rows only: their outputs would be overwritten.
    const at::Tensor kv_h =
        kv_rows ? vit_.block_input(i, prompts.select(1, i), at::Tensor(), at::Tensor(), 0, false).normed : at::Tensor();
    // Token pooling reads only the CLS row (and a distilled DeiT's dist row) of the last block.
    const int64_t queries =
        i == depth - 1 && vit_config_.global_pool == "token" ? (vit_config_.dist_token ? 2 : 1) : -1;
    std::tie(y, m) = vit_.block_forward_normed(i, in.sum, in.normed, queries, /*fused=*/false, kv_h);
  }
  // Average pooling skips the prefix and (shallow) the prompt rows.
  return vit_.pool(y + m, prefix + (shallow ? prompts.size(2) : 0));  // (B, D)
}

std::vector<at::Tensor> MultiTaskVit::forward(const at::Tensor& images, const std::vector<TaskRequest>& requests) {
  check_images(images);
  const int64_t M = images.size(0);
  for (size_t r = 0; r < requests.size(); ++r) {
    const TaskRequest& q = requests[r];
    if (q.image < 0 || q.image >= M || q.task < 0 || q.task >= num_tasks()) {
      throw Error(kErrArgument, "request " + std::to_string(r) + " asks for image " + std::to_string(q.image) + " of " +
                                    std::to_string(M) + " and task " + std::to_string(q.task) + " of " +
                                    std::to_string(num_tasks()));
    }
  }
  c10::InferenceMode inference;
  const at::Tensor x = images.to(device_, at::kFloat);
  // Requests by prompt shape (tokens, deep): each shape is one pass over the backbone.
  std::map<std::pair<int64_t, bool>, std::vector<size_t>> groups;
  for (size_t r = 0; r < requests.size(); ++r) {
    const PromptConfig& p = tasks_[static_cast<size_t>(requests[r].task)].config.prompt;
    groups[{p.tokens, p.tokens > 0 && p.deep}].push_back(r);
  }
  std::vector<at::Tensor> out(requests.size());
  for (const auto& [shape, members] : groups) {
    const auto [tokens, deep] = shape;
    std::vector<int64_t> row_of(members.size());  // each member's row of `features`
    at::Tensor features_of;                       // (rows, D)
    if (tokens == 0) {
      // No prompts: every distinct image is embedded once, whatever tasks ask for it.
      std::vector<int64_t> distinct;
      std::map<int64_t, int64_t> row_of_image;
      for (size_t i = 0; i < members.size(); ++i) {
        auto [it, fresh] = row_of_image.emplace(requests[members[i]].image, static_cast<int64_t>(distinct.size()));
        if (fresh) distinct.push_back(it->first);
        row_of[i] = it->second;
      }
      features_of = features(x.index_select(0, index_tensor(distinct, device_)), at::Tensor(), false);
    } else {
      std::vector<int64_t> image_rows, task_rows, distinct_tasks;
      std::map<int64_t, int64_t> slot_of_task;
      for (size_t i = 0; i < members.size(); ++i) {
        const TaskRequest& q = requests[members[i]];
        auto [it, fresh] = slot_of_task.emplace(q.task, static_cast<int64_t>(distinct_tasks.size()));
        if (fresh) distinct_tasks.push_back(q.task);
        image_rows.push_back(q.image);
        task_rows.push_back(it->second);
        row_of[i] = static_cast<int64_t>(i);
      }
      std::vector<at::Tensor> stacked;
      for (int64_t t : distinct_tasks) stacked.push_back(tasks_[static_cast<size_t>(t)].block_prompts);
      const at::Tensor prompts = at::stack(stacked).index_select(0, index_tensor(task_rows, device_));  // (B, L, N, D)
      features_of = features(x.index_select(0, index_tensor(image_rows, device_)), prompts, deep);
    }
    // Each task's head on its members' features.
    std::map<int64_t, std::vector<size_t>> members_of_task;
    for (size_t i = 0; i < members.size(); ++i) members_of_task[requests[members[i]].task].push_back(i);
    for (const auto& [task, positions] : members_of_task) {
      std::vector<int64_t> rows;
      for (size_t i : positions) rows.push_back(row_of[i]);
      const at::Tensor logits =
          tasks_[static_cast<size_t>(task)].head->forward(features_of.index_select(0, index_tensor(rows, device_)));
      for (size_t j = 0; j < positions.size(); ++j) out[members[positions[j]]] = logits[static_cast<int64_t>(j)];
    }
  }
  return out;
}

int64_t MultiTaskVit::backbone_bytes() { return vit_.bytes(); }

int64_t MultiTaskVit::task_bytes(int64_t task) {
  task_config(task);
  Task& t = tasks_[static_cast<size_t>(task)];
  int64_t n = t.block_prompts.defined() ? static_cast<int64_t>(t.block_prompts.nbytes()) : 0;
  for (auto& part : {t.prompts->named_tensors(), t.head->named_tensors()}) {
    for (const auto& s : part) n += static_cast<int64_t>(s.slot->nbytes());
  }
  return n;
}

}  // namespace vpt
