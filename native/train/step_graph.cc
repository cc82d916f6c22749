// step_graph.cc — CPU builds: no CUDA graphs (step_graph_cuda.cc has the CUDA version).
#include "train/step_graph.h"

#include "runtime/errors.h"

namespace vpt {

#ifndef VPT_WITH_CUDA
struct StepGraph::Impl {};

std::string StepGraph::unavailable_reason(const at::Device&) {
  return "this build of vpt-native has no CUDA (LibTorch CPU)";
}

StepGraph::StepGraph(const at::Device&) { throw Error(kErrDevice, unavailable_reason(at::kCPU)); }
StepGraph::~StepGraph() = default;
void StepGraph::run_eager(const std::function<void()>& body) { body(); }
void StepGraph::capture(const std::function<void()>&) { throw Error(kErrDevice, unavailable_reason(at::kCPU)); }
bool StepGraph::captured() const { return false; }
void StepGraph::replay() { throw Error(kErrDevice, unavailable_reason(at::kCPU)); }
#endif

}  // namespace vpt
