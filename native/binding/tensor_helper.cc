// tensor_helper.cc — see tensor_helper.h.
#include "binding/tensor_helper.h"

#include <cstring>

#include "binding/js_args.h"
#include "binding/staged_batch_wrap.h"
#include "model/named_tensor.h"

namespace vpt {

namespace {

std::array<float, 3> channel_triple(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsArray() && v.As<Napi::Array>().Length() == 3, std::string("'") + key + "' must be an array of 3 numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::array<float, 3> out{};
  for (uint32_t i = 0; i < 3; ++i) {
    require(a.Get(i).IsNumber(), std::string("'") + key + "' must be an array of 3 numbers");
    out[i] = static_cast<float>(a.Get(i).As<Napi::Number>().DoubleValue());
  }
  return out;
}

}  // namespace

FloatView float_view(const Napi::Value& v, const char* what) {
  require(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_float32_array,
          std::string(what) + " must be a Float32Array");
  Napi::Float32Array a = v.As<Napi::Float32Array>();
  return {a.Data(), a.ElementLength()};
}

Napi::Float32Array to_float32_array(Napi::Env env, const at::Tensor& t) {
  at::Tensor c = t.detach().to(at::kCPU, at::kFloat).contiguous();
  Napi::Float32Array out = Napi::Float32Array::New(env, static_cast<size_t>(c.numel()));
  std::memcpy(out.Data(), c.data_ptr<float>(), static_cast<size_t>(c.numel()) * sizeof(float));
  return out;
}

// Checks an (images, shape) pair from JS and returns a view valid while the array is referenced.
FloatView image_batch(const Napi::CallbackInfo& info, std::vector<int64_t>& shape) {
  FloatView images = float_view(info[0], "images");
  shape = shape_of(info[1], "shape");
  require(static_cast<size_t>(numel_of(shape)) == images.length, "images hold " + std::to_string(images.length) +
                                                                     " floats but shape " + shape_string(shape) +
                                                                     " needs " + std::to_string(numel_of(shape)));
  return images;
}

// Int32Array labels copied into an int64 tensor (small: one per image).
at::Tensor labels_of(const Napi::Value& v) {
  require(v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
          "labels must be an Int32Array");
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  return at::from_blob(a.Data(), {static_cast<int64_t>(a.ElementLength())}, at::kInt).to(at::kLong);
}

at::Tensor image_tensor(const FloatView& images, const std::vector<int64_t>& shape) {
  return at::from_blob(const_cast<float*>(images.data), shape, at::kFloat);
}

Napi::Array tensors_to_js(Napi::Env env, const TensorMap& tensors) {
  Napi::Array out = Napi::Array::New(env);
  for (const auto& [name, tensor] : tensors) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("name", name);
    Napi::Array shape = Napi::Array::New(env);
    for (int64_t d : tensor.sizes()) shape.Set(shape.Length(), static_cast<double>(d));
    o.Set("shape", shape);
    o.Set("data", to_float32_array(env, tensor));
    out.Set(out.Length(), o);
  }
  return out;
}

// Copies {name, shape, data: Float32Array}[] into tensors on the JS thread.
std::shared_ptr<TensorMap> tensors_from_js(const Napi::Value& v) {
  require(v.IsArray(), "expected an array of tensors");
  Napi::Array list = v.As<Napi::Array>();
  auto tensors = std::make_shared<TensorMap>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object o = list.Get(i).As<Napi::Object>();
    std::vector<int64_t> shape = shape_of(o.Get("shape"), "shape");
    FloatView data = float_view(o.Get("data"), "data");
    const std::string name = string_field(o, "name");
    require(static_cast<size_t>(numel_of(shape)) == data.length,
            "tensor '" + name + "' holds " + std::to_string(data.length) + " floats but its shape " +
                shape_string(shape) + " needs " + std::to_string(numel_of(shape)));
    (*tensors)[name] = at::from_blob(const_cast<float*>(data.data), shape, at::kFloat).clone();
  }
  return tensors;
}

// Reads the batch that starts at info[0]; returns how many arguments it took.
size_t read_image_input(const Napi::CallbackInfo& info, bool u8, ImageInput& in) {
  if (u8) {
    if (StagedBatchWrap* staged = StagedBatchWrap::From(info[0])) {
      in.u8 = staged->batch(info.Env());
      in.memory = info[0];  // the wrapper keeps its pixels alive
      return 1;
    }
    in.u8 = image_batch_u8(info[0], in.memory);
    return 1;
  }
  in.floats = image_batch(info, in.shape);
  in.memory = info[0];
  return 2;
}

Napi::Object train_step_to_js(Napi::Env env, const TrainStepResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("correct", static_cast<double>(r.correct));
  o.Set("gradNorm", r.grad_norm);
  o.Set("skipped", r.skipped);
  o.Set("count", static_cast<double>(r.count));
  o.Set("stop", r.stop);
  o.Set("graphed", r.graphed);
  return o;
}

Napi::Object eval_result_to_js(Napi::Env env, const EvalResult& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("loss", r.loss);
  o.Set("correct1", static_cast<double>(r.correct1));
  o.Set("correct5", static_cast<double>(r.correct5));
  o.Set("count", static_cast<double>(r.count));
  if (r.logits.defined()) o.Set("logits", to_float32_array(env, r.logits));
  return o;
}

ImageBatchU8 image_batch_u8(const Napi::Value& v, Napi::Value& pixels_value) {
  require(v.IsObject(), "expected a uint8 image batch object");
  Napi::Object o = v.As<Napi::Object>();
  HostImageBatch host;
  pixels_value = o.Get("pixels");
  require(pixels_value.IsTypedArray() && pixels_value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
          "pixels must be a Uint8Array");
  Napi::Uint8Array pixels = pixels_value.As<Napi::Uint8Array>();
  host.pixels = pixels.Data();
  host.pixel_count = pixels.ElementLength();
  host.shape = shape_of(o.Get("shape"), "shape");

  Napi::Value crops = o.Get("crops");
  require(crops.IsTypedArray() && crops.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
          "crops must be an Int32Array");
  Napi::Int32Array c = crops.As<Napi::Int32Array>();
  host.crops = c.Data();
  host.crop_count = c.ElementLength();

  Napi::Value flips = o.Get("flips");
  require(flips.IsTypedArray() && flips.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
          "flips must be a Uint8Array");
  Napi::Uint8Array f = flips.As<Napi::Uint8Array>();
  host.flips = f.Data();
  host.flip_count = f.ElementLength();

  host.crop_size = int_field(o, "cropSize");
  host.norm = {channel_triple(o, "mean"), channel_triple(o, "std")};
  return image_batch_u8_of(host);
}

std::vector<TensorEntry> tensor_entries_of(const Napi::Array& list) {
  std::vector<TensorEntry> entries;
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Napi::Object e = list.Get(i).As<Napi::Object>();
    entries.push_back({string_field(e, "name"), string_field(e, "dtype"), shape_of(e.Get("shape"), "shape"),
                       static_cast<uint64_t>(number_field(e, "offset")),
                       static_cast<uint64_t>(number_field(e, "nbytes"))});
  }
  return entries;
}

}  // namespace vpt
