// staged_upload.h — a batch's pixels copied to the device ahead of the step that uses them.
//
// On CUDA the host pixels go through a pinned staging buffer (PyTorch's caching host
// allocator) and a non-blocking copy on a dedicated upload stream, so the next batch's copy
// overlaps the current step's kernels; the step's stream waits on the copy's event. On the CPU
// the pixels stay where they are.
#pragma once

#include <ATen/ATen.h>

#include <memory>

namespace vpt {

struct StagedPixels {
  at::Tensor pixels;            // on the target device (the host tensor itself on CPU)
  std::shared_ptr<void> ready;  // CUDA: the event recorded after the copy; null otherwise
};

// Starts the copy of `host` (uint8, contiguous) to `device` and returns without waiting for it.
StagedPixels stage_pixels(const at::Tensor& host, const at::Device& device);

// Orders the current stream (of the pixels' device) after the copy and marks the pixels as used by that stream (so
// the allocator does not reuse them before the step that reads them is done).
void await_staged(const StagedPixels& staged);

}  // namespace vpt
