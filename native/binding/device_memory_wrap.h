// device_memory_wrap.h — deviceMemory(): the CUDA allocator's counters (runtime/device_memory.h)
// for JS. [sync]
#pragma once

#include <napi.h>

namespace vpt {

// deviceMemory(index: number, resetPeak: boolean): {allocated, peakAllocated, reserved, peakReserved} | null
Napi::Value DeviceMemoryJs(const Napi::CallbackInfo& info);

}  // namespace vpt
