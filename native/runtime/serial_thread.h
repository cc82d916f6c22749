// serial_thread.h — one long-lived thread that runs submitted work one piece at a time, for
// native work that must stay on one thread:
//   * a model's steps (model_wrap.cc): glibc gives every thread its own malloc arena, so steps
//     spread over the libuv pool kept a step's worth of freed activations in each arena (peak
//     RSS 1.6 GiB instead of 0.5 GiB for ViT-Ti at batch 16), and each pool thread started its
//     own OpenMP team;
//   * CUDA graph warm-up, capture and replay (step_graph_cuda.cc): cuBLAS / cuDNN handles are
//     per thread, and a capture must not be the first use on its thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace vpt {

class SerialThread {
 public:
  SerialThread();
  ~SerialThread();
  SerialThread(const SerialThread&) = delete;
  SerialThread& operator=(const SerialThread&) = delete;

  // Runs `fn` on the thread and waits for it, rethrowing its exception here. Callers on other
  // threads take turns; a call from the thread itself runs `fn` inline.
  void run(const std::function<void()>& fn);

 private:
  void loop();

  std::mutex callers_;  // one run() at a time
  std::mutex mutex_;
  std::condition_variable wake_, finished_;
  std::function<void()> task_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace vpt
