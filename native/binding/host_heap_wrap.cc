// host_heap_wrap.cc — see host_heap_wrap.h.
#include "binding/host_heap_wrap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <limits>
#include <string>

#include "binding/promise_worker.h"
#include "runtime/errors.h"

namespace vpt {

Napi::Value HostHeapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    const struct mallinfo2 m = mallinfo2();
    Napi::Object o = Napi::Object::New(env);
    // uordblks: allocated chunks (arenas); hblkhd: blocks mmap'd on their own (live too).
    o.Set("inUse", static_cast<double>(m.uordblks + m.hblkhd));
    o.Set("free", static_cast<double>(m.fordblks));
    return o;
#else
    return env.Null();
#endif
  });
}

Napi::Value TrimHostHeapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
#if defined(__GLIBC__)
    return Napi::Boolean::New(env, malloc_trim(0) != 0);
#else
    return Napi::Boolean::New(env, false);
#endif
  });
}

Napi::Value KeepHostHeapJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    const auto bytes = [&](size_t i, const char* name) {
      if (i >= info.Length() || !info[i].IsNumber())
        throw Error(kErrArgument, std::string("keepHostHeap: ") + name + " must be a number of bytes");
      const double v = info[i].As<Napi::Number>().DoubleValue();
      if (!(v >= 0 && v <= static_cast<double>(std::numeric_limits<int>::max())))
        throw Error(kErrArgument, std::string("keepHostHeap: ") + name + " must be 0 to 2^31 - 1 bytes");
      return static_cast<int>(v);
    };
    const int mmap_threshold = bytes(0, "mmapThreshold"), trim_threshold = bytes(1, "trimThreshold"),
              top_pad = bytes(2, "topPad");
#if defined(__GLIBC__)
    // Each returns 1 when glibc took the value. Setting either threshold also stops glibc's
    // dynamic adjustment of both.
    const bool ok = mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 &&
                    mallopt(M_TOP_PAD, top_pad) == 1;
    return Napi::Boolean::New(env, ok);
#else
    (void)mmap_threshold, (void)trim_threshold, (void)top_pad;
    return Napi::Boolean::New(env, false);
#endif
  });
}

}  // namespace vpt
