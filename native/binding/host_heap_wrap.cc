// host_heap_wrap.cc — see host_heap_wrap.h.
#include "binding/host_heap_wrap.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "binding/promise_worker.h"

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

}  // namespace vpt
