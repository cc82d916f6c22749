// step_graph_cuda.cc — see step_graph.h; CUDA builds only.
#include <ATen/cuda/CUDAEvent.h>
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "runtime/cuda_device_index.h"
#include "runtime/errors.h"
#include "runtime/serial_thread.h"
#include "train/step_graph.h"

namespace vpt {

namespace {

// Runs `fn` with `side` as the current stream, after the work already queued on the caller's
// stream and before anything the caller queues next.
template <typename Fn>
void on_stream(const c10::cuda::CUDAStream& side, c10::DeviceIndex device, Fn&& fn) {
  c10::cuda::CUDAGuard device_guard(device);
  const c10::cuda::CUDAStream caller = c10::cuda::getCurrentCUDAStream(device);
  at::cuda::CUDAEvent queued;
  queued.record(caller);
  queued.block(side);
  {
    c10::cuda::CUDAStreamGuard stream_guard(side);
    fn();
  }
  at::cuda::CUDAEvent done;
  done.record(side);
  done.block(caller);
}

}  // namespace

struct StepGraph::Impl {
  c10::DeviceIndex device;
  c10::cuda::CUDAStream stream;
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  SerialThread thread;  // warm-up, capture and replays (see serial_thread.h)
};

std::string StepGraph::unavailable_reason(const at::Device& device) {
  if (!device.is_cuda()) return "CUDA graphs need a CUDA device; the model is on " + device.str();
  return "";
}

StepGraph::StepGraph(const at::Device& device) {
  const std::string why = unavailable_reason(device);
  if (!why.empty()) throw Error(kErrDevice, why);
  const c10::DeviceIndex index = cuda_index_of(device);
  impl_ = std::make_unique<Impl>(index, c10::cuda::getStreamFromPool(/*isHighPriority=*/false, index));
}

StepGraph::~StepGraph() {
  // The graph is destroyed on the thread that captured it.
  if (impl_ && impl_->graph) impl_->thread.run([&]() { impl_->graph.reset(); });
}

void StepGraph::run_eager(const std::function<void()>& body) {
  impl_->thread.run([&]() { on_stream(impl_->stream, impl_->device, body); });
}

void StepGraph::capture(const std::function<void()>& body) {
  impl_->thread.run([&]() { impl_->graph.reset(); });
  std::unique_ptr<at::cuda::CUDAGraph> graph;
  impl_->thread.run([&]() {
    on_stream(impl_->stream, impl_->device, [&]() {
      graph = std::make_unique<at::cuda::CUDAGraph>();
      // Thread-local: the loader's and the upload stream's CUDA calls on other threads do not
      // invalidate the capture; calls that would sync on this thread do.
      graph->capture_begin({0, 0}, cudaStreamCaptureModeThreadLocal);
      try {
        body();
      } catch (...) {
        try {
          graph->capture_end();  // ends the capture and returns the allocator to normal pools
        } catch (...) {
        }
        (void)cudaGetLastError();
        graph.reset();
        throw;
      }
      try {
        graph->capture_end();
      } catch (...) {
        (void)cudaGetLastError();
        graph.reset();
        throw;
      }
    });
  });
  impl_->graph = std::move(graph);
}

bool StepGraph::captured() const { return impl_ && impl_->graph != nullptr; }

void StepGraph::replay() {
  if (!captured()) throw Error(kErrNative, "no captured CUDA graph to replay");
  impl_->thread.run([&]() { on_stream(impl_->stream, impl_->device, [&]() { impl_->graph->replay(); }); });
}

}  // namespace vpt
