// add_layer_norm_cuda.cc — launches add_layer_norm's CUDA kernels on the current stream of the
// tensors' device (so they join whatever stream or CUDA-graph capture the step runs on). CUDA
// builds with the kernels compiled (VPT_WITH_CUDA_KERNELS) only.
#if VPT_WITH_CUDA_KERNELS

#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>

#include "kernels/add_layer_norm_kernels.h"
#include "runtime/errors.h"

namespace vpt {

namespace {

void check_launch(int status, const char* what) {
  if (status != 0) {
    throw Error(kErrTorch,
                std::string(what) + " failed to launch: " + cudaGetErrorString(static_cast<cudaError_t>(status)));
  }
}

}  // namespace

void launch_add_norm_forward_cuda(const kernels::AddNormForward& args, const at::Device& device) {
  c10::cuda::CUDAGuard guard(device);
  check_launch(kernels::add_norm_forward_cuda(args, c10::cuda::getCurrentCUDAStream().stream()),
               "the fused add + LayerNorm kernel");
}

void launch_add_norm_backward_cuda(const kernels::AddNormBackward& args, const at::Device& device) {
  c10::cuda::CUDAGuard guard(device);
  check_launch(kernels::add_norm_backward_cuda(args, c10::cuda::getCurrentCUDAStream().stream()),
               "the fused add + LayerNorm backward kernel");
}

}  // namespace vpt

#endif  // VPT_WITH_CUDA_KERNELS
