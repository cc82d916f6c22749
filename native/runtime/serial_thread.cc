// serial_thread.cc — see serial_thread.h.
#include "runtime/serial_thread.h"

#include <exception>

namespace vpt {

SerialThread::SerialThread() : thread_([this]() { loop(); }) {}

SerialThread::~SerialThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.get_id() == std::this_thread::get_id()) {
    thread_.detach();  // the last owner let go from inside a task: the loop ends on its own
  } else {
    thread_.join();
  }
}

void SerialThread::run(const std::function<void()>& fn) {
  if (std::this_thread::get_id() == thread_.get_id()) {
    fn();
    return;
  }
  std::lock_guard<std::mutex> turn(callers_);
  std::exception_ptr error;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    task_ = [&]() {
      try {
        fn();
      } catch (...) {
        error = std::current_exception();
      }
    };
  }
  wake_.notify_all();
  {
    std::unique_lock<std::mutex> lock(mutex_);
    finished_.wait(lock, [&]() { return !task_; });
  }
  if (error) std::rethrow_exception(error);
}

void SerialThread::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&]() { return stopping_ || task_; });
    if (!task_) return;  // stopping with nothing queued
    lock.unlock();
    task_();
    lock.lock();
    task_ = nullptr;
    finished_.notify_all();
  }
}

}  // namespace vpt
