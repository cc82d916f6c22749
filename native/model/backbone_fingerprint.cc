// backbone_fingerprint.cc — see backbone_fingerprint.h.
#include "model/backbone_fingerprint.h"

#include <algorithm>
#include <cstdio>
#include <vector>

namespace vpt {

namespace {

constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;
constexpr uint64_t kFnvPrime = 0x100000001b3ULL;

uint64_t fnv1a(uint64_t h, const uint8_t* bytes, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= bytes[i];
    h *= kFnvPrime;
  }
  return h;
}

std::string hex(uint64_t h) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(h));
  return out;
}

}  // namespace

BackboneFingerprint fingerprint_backbone(const NamedTensors& tensors) {
  std::vector<const NamedTensor*> sorted;
  for (const auto& t : tensors) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  BackboneFingerprint out;
  uint64_t shapes = kFnvOffset, weights = kFnvOffset;
  for (const NamedTensor* t : sorted) {
    std::string line = t->name;
    for (size_t i = 0; i < t->shape.size(); ++i) {
      line.push_back(i == 0 ? ':' : 'x');
      line.append(std::to_string(t->shape[i]));
    }
    line.push_back(';');
    shapes = fnv1a(shapes, reinterpret_cast<const uint8_t*>(line.data()), line.size());
    const at::Tensor bf16 = t->slot->detach().to(at::kBFloat16).to(at::kCPU).contiguous();
    weights = fnv1a(weights, static_cast<const uint8_t*>(bf16.data_ptr()), bf16.nbytes());
    out.params += numel_of(t->shape);
  }
  out.shapes = hex(shapes);
  out.weights = hex(weights);
  return out;
}

}  // namespace vpt
