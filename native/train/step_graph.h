// step_graph.h — one training step captured as a CUDA graph and replayed (CUDA builds; see
// step_graph_cuda.cc). The graph owns a side stream: warm-up steps, the capture and every
// replay run on it, ordered after the work already queued on the caller's current stream and
// before anything the caller queues next.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <memory>
#include <string>

namespace vpt {

class StepGraph {
 public:
  // Why graphs cannot run on `device` with this build, or empty when they can.
  static std::string unavailable_reason(const at::Device& device);

  explicit StepGraph(const at::Device& device);
  ~StepGraph();
  StepGraph(const StepGraph&) = delete;
  StepGraph& operator=(const StepGraph&) = delete;

  // Runs `body` eagerly on the graph's stream (warm-up: lazy initialisation happens here,
  // outside the capture).
  void run_eager(const std::function<void()>& body);
  // Captures `body` on the graph's stream; nothing runs until replay(). On failure the capture
  // is ended, the graph stays empty and the exception propagates.
  void capture(const std::function<void()>& body);
  bool captured() const;
  void replay();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace vpt
