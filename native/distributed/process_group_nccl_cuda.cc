// process_group_nccl_cuda.cc — the NCCL backend (CUDA tensors, one GPU per rank). Compiled only
// in CUDA builds that found nccl.h (the pip torch's nvidia-nccl wheel ships it).
#ifdef VPT_WITH_NCCL
#include <c10/cuda/CUDAFunctions.h>

#include <cstdlib>
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "distributed/process_group.h"

namespace vpt {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    const GroupOptions& options) {
  // Unless the user chose otherwise: a failed or timed-out collective throws from wait() (so it
  // becomes VPT_DISTRIBUTED) instead of NCCL's watchdog ending the process.
  ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  ::setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "2", /*overwrite=*/0);
  // NCCL binds this rank to the current device; make it the model's GPU, not a guess.
  c10::cuda::set_device(static_cast<c10::DeviceIndex>(options.cuda_device));
  auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
  nccl_options->timeout = options.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, options.rank, options.world_size, nccl_options);
}

}  // namespace vpt
#endif
