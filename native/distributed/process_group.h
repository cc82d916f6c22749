// process_group.h — data-parallel communication on torch's c10d.
//
// Rendezvous through a TCPStore (rank 0 hosts it at MASTER_ADDR:MASTER_PORT), then a Gloo
// (CPU tensors) or NCCL (CUDA tensors) backend. The trainer sums one flat buffer per step
// through it (gradients, loss, counts); evaluation sums its metric counters. Every collective
// waits at most `timeout`: a rank that died or hangs surfaces as VPT_DISTRIBUTED on the others.
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <torch/csrc/distributed/c10d/Backend.hpp>
#include <torch/csrc/distributed/c10d/Store.hpp>

namespace vpt {

struct GroupOptions {
  int rank = 0;
  int world_size = 1;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  std::string backend = "gloo";  // "gloo" | "nccl"
  std::chrono::milliseconds timeout{std::chrono::minutes(30)};
  std::string gloo_interface;  // GLOO_SOCKET_IFNAME; empty: the interface that reaches MASTER_ADDR
  int cuda_device = 0;         // NCCL: this rank's GPU (LOCAL_RANK)
};

// Which backends this build of the addon contains.
bool gloo_available();
bool nccl_available();

class DistributedGroup {
 public:
  // Blocks until all `world_size` ranks have joined or `timeout` passes.
  static std::shared_ptr<DistributedGroup> connect(const GroupOptions& options);
  ~DistributedGroup();

  int rank() const { return options_.rank; }
  int world_size() const { return options_.world_size; }
  const std::string& backend_name() const { return options_.backend; }
  // Where collective buffers must live: CPU for Gloo, this rank's GPU for NCCL.
  at::Device device() const;

  // In place: `flat` becomes the elementwise sum over ranks (same shape and dtype everywhere).
  void allreduce_sum(at::Tensor& flat);
  // In place: every rank's `flat` becomes rank `root`'s.
  void broadcast(at::Tensor& flat, int root);
  void barrier();

 private:
  explicit DistributedGroup(GroupOptions options) : options_(std::move(options)) {}
  void wait(const char* what, const std::function<void()>& collective);

  GroupOptions options_;
  c10::intrusive_ptr<c10d::Store> store_;
  c10::intrusive_ptr<c10d::Backend> backend_;
};

// Backend factories, each in its own translation unit, compiled only when its headers exist
// (Gloo: CMake found gloo/; NCCL: a CUDA build with nccl.h).
c10::intrusive_ptr<c10d::Backend> make_gloo_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    const GroupOptions& options);
c10::intrusive_ptr<c10d::Backend> make_nccl_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                    const GroupOptions& options);

}  // namespace vpt
