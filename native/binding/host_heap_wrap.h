// host_heap_wrap.h — the C heap (glibc malloc) of this process for JS: its counters, and giving
// its free pages back to the system. [sync]
#pragma once

#include <napi.h>

namespace vpt {

// hostHeap(): {inUse, free} (bytes: malloc'd and live; held by malloc but free) | null without glibc
Napi::Value HostHeapJs(const Napi::CallbackInfo& info);

// trimHostHeap(): boolean — malloc_trim(0): the free pages of every arena go back to the system
// (glibc keeps freed memory for reuse; blocks freed in the middle of an arena are otherwise never
// returned). true when some memory was released; false without glibc.
Napi::Value TrimHostHeapJs(const Napi::CallbackInfo& info);

// keepHostHeap(mmapThreshold, trimThreshold, topPad): boolean — mallopt: requests below
// mmapThreshold come from malloc's arenas instead of a mapping of their own, free memory at an
// arena's top is kept up to trimThreshold, and each growth of the heap asks for topPad more. So a
// train step's buffers, freed and requested again every step, reuse pages already mapped instead
// of faulting in fresh zeroed ones. true when glibc took all three; false without glibc.
Napi::Value KeepHostHeapJs(const Napi::CallbackInfo& info);

}  // namespace vpt
