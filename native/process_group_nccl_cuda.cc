// process_group_nccl_cuda.cc — the NCCL backend (CUDA tensors, one GPU per rank). Compiled only
// in CUDA builds that found nccl.h (the pip torch's nvidia-nccl wheel ships it).
#ifdef VPT_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>

#include "process_group.h"

namespace vpt {

c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    const GroupOptions& options) {
  auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
  nccl_options->timeout = options.timeout;
  return c10::make_intrusive<c10d::ProcessGroupNCCL>(store, options.rank, options.world_size, nccl_options);
}

}  // namespace vpt
#endif
