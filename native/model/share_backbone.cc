// share_backbone.cc — PromptedVit::share_backbone (prompted_vit.h): one frozen backbone for
// several models. A tensor handle is a reference to its storage, so assigning `source`'s
// handles to this model's slots makes both read the same weights; nothing is copied. It is
// safe because neither model ever writes them: they are frozen (no autograd, not among the
// optimizer's tensors) and loading a backbone replaces the handles instead of writing into
// them. tune's grouped trials (lib/tune/group-trainer.ts) hold one backbone this way.
#include <set>
#include <string>

#include "model/prompted_vit.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

const char* transfer_name(Transfer t) {
  switch (t) {
    case Transfer::Prompt:
      return "prompt";
    case Transfer::Linear:
      return "linear";
    case Transfer::Full:
      return "full";
    case Transfer::Partial:
      return "partial-k";
    case Transfer::Bias:
      return "bias";
    case Transfer::Adapter:
      return "adapter";
    case Transfer::Sidetune:
      return "sidetune";
  }
  return "?";
}

void refuse(const std::string& why) { throw Error(kErrOption, "cannot share the backbone: " + why); }

// The storages of `tensors` (defined ones), to tell whether another tensor aliases one.
std::set<const void*> storages_of(const NamedTensors& tensors) {
  std::set<const void*> out;
  for (const auto& t : tensors) {
    if (t.slot->defined() && t.slot->has_storage() && t.slot->storage().data()) out.insert(t.slot->storage().data());
  }
  return out;
}

}  // namespace

void PromptedVit::share_backbone(PromptedVit& source) {
  if (&source == this) refuse("a model cannot share its own backbone");
  if (!source.backbone_loaded_) refuse("the source model's backbone is not loaded");
  for (const PromptedVit* m : {this, &source}) {
    const Transfer t = m->config_.transfer;
    if (t == Transfer::Full || t == Transfer::Partial || t == Transfer::Bias) {
      refuse(std::string("transfer '") + transfer_name(t) +
             "' trains backbone tensors; only frozen backbones (transfer 'prompt', 'linear' or 'adapter') are shared");
    }
    if (t == Transfer::Sidetune) {
      refuse(
          "transfer 'sidetune' is not shared (its side network is a second backbone of its own); only transfer "
          "'prompt', 'linear' or 'adapter' share one");
    }
  }
  if (device_ != source.device_) refuse("the models are on " + device_.str() + " and " + source.device_.str());
  if (config_.bf16_backbone != source.config_.bf16_backbone) {
    refuse("one model stores its backbone in bfloat16 and the other in float32 (backboneDtype)");
  }
  NamedTensors mine = vit_.named_tensors();
  NamedTensors theirs = source.vit_.named_tensors();
  if (mine.size() != theirs.size()) refuse("the backbones have different tensors (another architecture)");
  for (size_t i = 0; i < mine.size(); ++i) {
    const NamedTensor& a = mine[i];
    const NamedTensor& b = theirs[i];
    if (a.name != b.name || a.shape != b.shape) {
      refuse("the backbones differ at " + a.name + " " + shape_string(a.shape) + " (the source has " + b.name + " " +
             shape_string(b.shape) + ")");
    }
    // Any backbone tensor the source lets autograd track may be trained: refused.
    if (b.slot->defined() && b.slot->requires_grad()) refuse("the source model trains backbone tensor " + b.name);
  }
  // The tensors this model trains must not be among the shared ones (any transfer mode that trains
  // part of the backbone): checked on the handles as they would be, then undone if so.
  std::vector<at::Tensor> before;
  before.reserve(mine.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    before.push_back(*mine[i].slot);
    *mine[i].slot = *theirs[i].slot;
  }
  const std::set<const void*> shared = storages_of(mine);
  for (const auto& t : trainable_tensors()) {
    if (t.slot->defined() && t.slot->has_storage() && shared.count(t.slot->storage().data())) {
      for (size_t i = 0; i < mine.size(); ++i) *mine[i].slot = before[i];
      refuse("this model trains backbone tensor " + t.name + " (transfer '" + transfer_name(config_.transfer) + "')");
    }
  }
  backbone_loaded_ = true;
  backbone_shared_ = true;
  source.backbone_shared_ = true;
  ++generation_;
}

}  // namespace vpt
