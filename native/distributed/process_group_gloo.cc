// process_group_gloo.cc — the Gloo backend (CPU tensors). Compiled only when CMake found gloo's
// headers: the LibTorch wheels contain Gloo's code but not its headers.
#ifdef VPT_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>

#include "distributed/process_group.h"

namespace vpt {

c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    const GroupOptions& options) {
  auto gloo_options = c10d::ProcessGroupGloo::Options::create(options.timeout);
  // As torch.distributed: GLOO_SOCKET_IFNAME names the interface; otherwise use the address
  // that reaches the store on a single machine, and this host's name across machines.
  const bool loopback =
      options.master_addr == "127.0.0.1" || options.master_addr == "localhost" || options.master_addr == "::1";
  if (!options.gloo_interface.empty()) {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(options.gloo_interface));
  } else if (loopback) {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    gloo_options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return c10::make_intrusive<c10d::ProcessGroupGloo>(store, options.rank, options.world_size, gloo_options);
}

}  // namespace vpt
#endif
