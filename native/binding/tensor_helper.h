// tensor_helper.h — JS values <-> tensors for the NativeModel wrapper. [sync] All of it runs on
// the JS thread; a view it returns stays valid while the worker references the JS array.
// @throw vpt::Error VPT_ARGUMENT naming the argument when a value has the wrong type or size.
#pragma once

#include <ATen/ATen.h>
#include <napi.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

#include "data/image_batch_u8.h"
#include "train/trainer.h"
#include "weights/tensor_file.h"

namespace vpt {

// A view of a JS Float32Array; valid while the array is referenced by the worker.
struct FloatView {
  const float* data;
  size_t length;
};

FloatView float_view(const Napi::Value& v, const char* what);

// A tensor's values copied into a new Float32Array.
Napi::Float32Array to_float32_array(Napi::Env env, const at::Tensor& t);

// Checks an (images, shape) pair from JS and returns a view valid while the array is referenced.
FloatView image_batch(const Napi::CallbackInfo& info, std::vector<int64_t>& shape);

// Int32Array labels copied into an int64 tensor (small: one per image).
at::Tensor labels_of(const Napi::Value& v);

// The (n, 3, H, W) float tensor over a view, without copying.
at::Tensor image_tensor(const FloatView& images, const std::vector<int64_t>& shape);

// {name, shape, data: Float32Array}[] <-> named tensors (copied both ways).
Napi::Array tensors_to_js(Napi::Env env, const TensorMap& tensors);
std::shared_ptr<TensorMap> tensors_from_js(const Napi::Value& v);
// A JS array of { name, dtype, shape, offset, nbytes } (a checkpoint's index) as TensorEntry rows.
std::vector<TensorEntry> tensor_entries_of(const Napi::Array& list);

// Parses and checks {pixels: Uint8Array, shape, crops: Int32Array, flips: Uint8Array,
// cropSize, mean, std}. `pixels_value` receives the Uint8Array, for the worker to keep alive.
ImageBatchU8 image_batch_u8(const Napi::Value& v, Napi::Value& pixels_value);

// An image batch from JS in either form, readable off the JS thread: normalized NCHW floats
// (images, shape), or a loader's uint8 NHWC batch that is cropped, flipped and normalized on
// the model's device.
struct ImageInput {
  FloatView floats{};
  std::vector<int64_t> shape;
  std::optional<ImageBatchU8> u8;
  Napi::Value memory;  // the JS array the worker keeps alive (used on the JS thread only)

  at::Tensor tensor(const at::Device& device) const { return u8 ? u8->on(device) : image_tensor(floats, shape); }
};

// Reads the batch that starts at info[0] (a staged batch, a uint8 batch object, or
// images + shape); returns how many arguments it took.
size_t read_image_input(const Napi::CallbackInfo& info, bool u8, ImageInput& in);

Napi::Object train_step_to_js(Napi::Env env, const TrainStepResult& r);
Napi::Object eval_result_to_js(Napi::Env env, const EvalResult& r);

}  // namespace vpt
