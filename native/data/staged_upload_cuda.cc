// staged_upload_cuda.cc — pinned staging and the upload stream (see staged_upload.h); CUDA
// builds only.
#include <ATen/cuda/CUDAEvent.h>
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include <cstring>
#include <map>
#include <mutex>

#include "data/staged_upload.h"
#include "runtime/cuda_device_index.h"

namespace vpt {

namespace {

// One upload stream per device for the whole process, so uploads keep their order.
c10::cuda::CUDAStream upload_stream(c10::DeviceIndex device) {
  static std::mutex mutex;
  static std::map<c10::DeviceIndex, c10::cuda::CUDAStream> streams;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = streams.find(device);
  if (it == streams.end()) it = streams.emplace(device, c10::cuda::getStreamFromPool(false, device)).first;
  return it->second;
}

}  // namespace

StagedPixels stage_pixels_cuda(const at::Tensor& host, const at::Device& device) {
  const c10::DeviceIndex index = cuda_index_of(device);
  c10::cuda::CUDAGuard device_guard(index);
  const c10::cuda::CUDAStream stream = upload_stream(index);
  c10::cuda::CUDAStreamGuard stream_guard(stream);
  const at::Tensor source = host.contiguous();
  // The caching host allocator keeps the pinned block until the copy's event has passed.
  at::Tensor pinned = at::empty(source.sizes(), at::TensorOptions().dtype(source.scalar_type()).pinned_memory(true));
  std::memcpy(pinned.data_ptr(), source.data_ptr(), static_cast<size_t>(source.nbytes()));
  // Allocated on the upload stream; await_staged() records the stream that reads it.
  at::Tensor on_device = pinned.to(at::Device(at::kCUDA, index), source.scalar_type(), /*non_blocking=*/true);
  auto ready = std::make_shared<at::cuda::CUDAEvent>();
  ready->record(stream);
  return {on_device, std::static_pointer_cast<void>(ready)};
}

void await_staged_cuda(const StagedPixels& staged) {
  const c10::DeviceIndex index = staged.pixels.device().index();
  c10::cuda::CUDAGuard device_guard(index);
  const c10::cuda::CUDAStream current = c10::cuda::getCurrentCUDAStream(index);
  static_cast<at::cuda::CUDAEvent*>(staged.ready.get())->block(current);
  c10::cuda::CUDACachingAllocator::recordStream(staged.pixels.storage().data_ptr(), current);
}

}  // namespace vpt
