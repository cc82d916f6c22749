// device_rng.h — seeded random generators on the model's device, so prompt dropout (and later
// data order) is reproducible and its state can be saved with the training state.
#pragma once

#include <ATen/ATen.h>

namespace vpt {

// A new generator for `device` seeded with `seed` (CPU: mt19937; CUDA: Philox).
at::Generator make_generator(const at::Device& device, uint64_t seed);

}  // namespace vpt
