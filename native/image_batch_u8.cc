// image_batch_u8.cc — see image_batch_u8.h.
#include "image_batch_u8.h"

#include "js_args.h"
#include "named_tensor.h"

namespace vpt {

at::Tensor ImageBatchU8::on(const at::Device& device) const {
  await_staged(staged);  // nothing to wait for unless uploaded on CUDA
  return crop_flip_normalize(pixels, crops, flips, crop_size, norm, device);
}

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

ImageBatchU8 image_batch_u8(const Napi::Value& v, Napi::Value& pixels_value) {
  require(v.IsObject(), "expected a uint8 image batch object");
  Napi::Object o = v.As<Napi::Object>();
  ImageBatchU8 b;
  pixels_value = o.Get("pixels");
  require(pixels_value.IsTypedArray() && pixels_value.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
          "pixels must be a Uint8Array");
  Napi::Uint8Array pixels = pixels_value.As<Napi::Uint8Array>();
  std::vector<int64_t> shape = shape_of(o.Get("shape"), "shape");
  require(shape.size() == 4, "shape must be [n, height, width, 3]");
  require(static_cast<size_t>(numel_of(shape)) == pixels.ElementLength(),
          "pixels hold " + std::to_string(pixels.ElementLength()) + " bytes but shape " + shape_string(shape) +
              " needs " + std::to_string(numel_of(shape)));
  b.pixels = at::from_blob(pixels.Data(), shape, at::kByte);

  Napi::Value crops = o.Get("crops");
  require(crops.IsTypedArray() && crops.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array,
          "crops must be an Int32Array");
  Napi::Int32Array c = crops.As<Napi::Int32Array>();
  require(c.ElementLength() % 2 == 0, "crops must hold (top, left) pairs");
  b.crops = at::from_blob(c.Data(), {static_cast<int64_t>(c.ElementLength() / 2), 2}, at::kInt).clone();

  Napi::Value flips = o.Get("flips");
  require(flips.IsTypedArray() && flips.As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array,
          "flips must be a Uint8Array");
  Napi::Uint8Array f = flips.As<Napi::Uint8Array>();
  b.flips = at::from_blob(f.Data(), {static_cast<int64_t>(f.ElementLength())}, at::kByte).clone();

  b.crop_size = int_field(o, "cropSize");
  b.norm = {channel_triple(o, "mean"), channel_triple(o, "std")};
  check_crop_windows(b.pixels, b.crops, b.flips, b.crop_size);
  return b;
}

}  // namespace vpt
