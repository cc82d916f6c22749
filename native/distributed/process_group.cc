// process_group.cc — see process_group.h.
#include "distributed/process_group.h"

#include <sstream>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include "runtime/compat.h"
#include "runtime/errors.h"

namespace vpt {

bool gloo_available() {
#ifdef VPT_WITH_GLOO
  return true;
#else
  return false;
#endif
}

bool nccl_available() {
#ifdef VPT_WITH_NCCL
  return true;
#else
  return false;
#endif
}

namespace {

std::string where(const GroupOptions& o) {
  return "rank " + std::to_string(o.rank) + " of " + std::to_string(o.world_size) + ", store " + o.master_addr + ":" +
         std::to_string(o.master_port);
}

std::string seconds(std::chrono::milliseconds ms) {
  std::ostringstream s;
  s << static_cast<double>(ms.count()) / 1000.0;
  return s.str();
}

}  // namespace

std::shared_ptr<DistributedGroup> DistributedGroup::connect(const GroupOptions& options) {
  if (options.world_size < 1 || options.rank < 0 || options.rank >= options.world_size) {
    throw Error(kErrArgument, "rank " + std::to_string(options.rank) + " is outside a world of " +
                                  std::to_string(options.world_size));
  }
  if (options.backend == "gloo" && !gloo_available()) {
    throw Error(kErrDistributed,
                "this build of vpt-native has no Gloo backend: gloo headers were not found when the addon was "
                "built (install libgloo-dev, or point GLOO_INCLUDE_DIR at gloo's headers, and rebuild)");
  }
  if (options.backend == "nccl" && !nccl_available()) {
    throw Error(kErrDistributed,
                "this build of vpt-native has no NCCL backend: it needs a CUDA LibTorch and nccl.h at build time");
  }
  if (options.backend != "gloo" && options.backend != "nccl") {
    throw Error(kErrArgument, "unknown distributed backend \"" + options.backend + "\" (gloo or nccl)");
  }
  std::shared_ptr<DistributedGroup> group(new DistributedGroup(options));
  try {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<std::uint16_t>(options.master_port);
    store_options.isServer = options.rank == 0;
    store_options.numWorkers = static_cast<std::size_t>(options.world_size);
    store_options.waitWorkers = true;
    store_options.timeout = options.timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options.master_addr, store_options);
    // A prefix per group, as torch.distributed does, so a store could host more groups later.
    group->store_ = c10::make_intrusive<c10d::PrefixStore>("vpt/default_pg", tcp);
    group->backend_ = options.backend == "gloo" ? make_gloo_backend(group->store_, options)
                                                : make_nccl_backend(group->store_, options);
  } catch (const Error&) {
    throw;
  } catch (const c10::Error& e) {
    throw Error(kErrDistributed,
                "could not join the process group (" + where(options) + "): " + compat::message_without_backtrace(e));
  } catch (const std::exception& e) {
    throw Error(kErrDistributed, "could not join the process group (" + where(options) + "): " + e.what());
  }
  return group;
}

DistributedGroup::~DistributedGroup() {
  if (!backend_) return;
  try {
    backend_->shutdown();
  } catch (...) {
    // A peer that already died makes shutdown throw; there is nothing left to release.
  }
}

at::Device DistributedGroup::device() const {
  return options_.backend == "nccl" ? at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(options_.cuda_device))
                                    : at::Device(at::kCPU);
}

void DistributedGroup::wait(const char* what, const std::function<void()>& collective) {
  try {
    collective();
  } catch (const c10::Error& e) {
    throw Error(kErrDistributed, std::string(what) + " failed on " + where(options_) +
                                     " (another rank died, hung past the " + seconds(options_.timeout) +
                                     " s timeout, or lost its connection): " + compat::message_without_backtrace(e));
  } catch (const std::exception& e) {
    throw Error(kErrDistributed, std::string(what) + " failed on " + where(options_) + ": " + e.what());
  }
}

void DistributedGroup::allreduce_sum(at::Tensor& flat) {
  std::vector<at::Tensor> tensors{flat};
  wait("all-reduce", [&] {
    c10d::AllreduceOptions o;
    o.reduceOp = c10d::ReduceOp::SUM;
    o.timeout = options_.timeout;
    backend_->allreduce(tensors, o)->wait(options_.timeout);
  });
}

void DistributedGroup::broadcast(at::Tensor& flat, int root) {
  std::vector<at::Tensor> tensors{flat};
  wait("broadcast", [&] {
    c10d::BroadcastOptions o;
    o.rootRank = root;
    o.timeout = options_.timeout;
    backend_->broadcast(tensors, o)->wait(options_.timeout);
  });
}

void DistributedGroup::barrier() {
  wait("barrier", [&] {
    c10d::BarrierOptions o;
    o.timeout = options_.timeout;
    backend_->barrier(o)->wait(options_.timeout);
  });
}

#ifndef VPT_WITH_GLOO
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>&, const GroupOptions&) {
  throw Error(kErrDistributed, "no Gloo backend in this build");
}
#endif

#ifndef VPT_WITH_NCCL
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>&, const GroupOptions&) {
  throw Error(kErrDistributed, "no NCCL backend in this build");
}
#endif

}  // namespace vpt
