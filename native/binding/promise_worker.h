// promise_worker.h — runs native work on the libuv thread pool and settles a Promise.
//
// The worker holds references to the JS objects it reads (the model wrapper, input typed
// arrays) until it settles, catches every exception, and rejects with an Error that carries
// a stable `code` (see errors.h) and no C++ backtrace.
#pragma once

#include <napi.h>

#include <functional>
#include <vector>

#include "runtime/errors.h"

namespace vpt {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  using Work = std::function<void()>;
  using Resolve = std::function<Napi::Value(Napi::Env)>;
  using Fail = std::function<void(Napi::Env)>;

  // `keep_alive`: JS values that must outlive the work (their memory is read off-thread).
  // `fail` runs on the JS thread before a rejection.
  PromiseWorker(Napi::Env env, const std::vector<Napi::Value>& keep_alive, Work work, Resolve resolve, Fail fail)
      : Napi::AsyncWorker(env, "vpt-native"),
        deferred_(Napi::Promise::Deferred::New(env)),
        work_(std::move(work)),
        resolve_(std::move(resolve)),
        fail_(std::move(fail)) {
    for (const auto& v : keep_alive) {
      if (v.IsObject()) refs_.push_back(Napi::Persistent(v.As<Napi::Object>()));
    }
  }

  // Queues the work and returns its Promise.
  static Napi::Promise Run(Napi::Env env, const std::vector<Napi::Value>& keep_alive, Work work,
                           Resolve resolve = nullptr, Fail fail = nullptr) {
    auto* worker = new PromiseWorker(env, keep_alive, std::move(work), std::move(resolve), std::move(fail));
    Napi::Promise promise = worker->deferred_.Promise();
    worker->Queue();
    return promise;
  }

 protected:
  void Execute() override {
    try {
      work_();
    } catch (...) {
      failure_ = describe_current_exception();
      failed_ = true;
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::HandleScope scope(env);
    if (failed_) {
      if (fail_) fail_(env);
      deferred_.Reject(MakeError(env, failure_));
      return;
    }
    try {
      deferred_.Resolve(resolve_ ? resolve_(env) : env.Undefined());
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (...) {
      deferred_.Reject(MakeError(env, describe_current_exception()));
    }
  }

 public:
  static Napi::Value MakeError(Napi::Env env, const ErrorInfo& info) {
    Napi::Error error = Napi::Error::New(env, info.message);
    error.Set("code", Napi::String::New(env, info.code));
    return error.Value();
  }

 private:
  Napi::Promise::Deferred deferred_;
  Work work_;
  Resolve resolve_;
  Fail fail_;
  std::vector<Napi::ObjectReference> refs_;
  bool failed_ = false;
  ErrorInfo failure_;
};

// Runs `fn` on the JS thread, turning a native exception into a thrown JS Error with a code.
template <typename Fn>
Napi::Value guard_sync(Napi::Env env, Fn&& fn) {
  try {
    return fn();
  } catch (const Napi::Error&) {
    throw;
  } catch (...) {
    throw Napi::Error(env, PromiseWorker::MakeError(env, describe_current_exception()));
  }
}

}  // namespace vpt
