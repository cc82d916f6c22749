// image_decode_wrap.cc — see image_decode_wrap.h.
#include "binding/image_decode_wrap.h"

#ifdef VPT_HAVE_LIBJPEG

#include <memory>
#include <string>
#include <vector>

#include "binding/js_args.h"
#include "binding/promise_worker.h"
#include "data/jpeg_decode.h"

namespace vpt {

namespace {

void require_arg(bool ok, const std::string& what) { require(ok, "decodeJpegFile: " + what); }

// A Uint8Array over `bytes`, which it then owns (copied where external memory is not allowed).
Napi::Value to_js(Napi::Env env, std::vector<uint8_t>&& bytes) {
  auto* owned = new std::vector<uint8_t>(std::move(bytes));
  Napi::Buffer<uint8_t> buffer = Napi::Buffer<uint8_t>::NewOrCopy(
      env, owned->data(), owned->size(), [](Napi::Env, uint8_t*, std::vector<uint8_t>* v) { delete v; }, owned);
  return Napi::Uint8Array::New(env, buffer.Length(), buffer.ArrayBuffer(), buffer.ByteOffset());
}

Napi::Value DecodeJpegFile(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  return guard_sync(env, [&]() -> Napi::Value {
    require_arg(info.Length() == 1 && info[0].IsObject(), "expected one request object");
    Napi::Object o = info[0].As<Napi::Object>();
    // `path` (a file the worker reads) or `bytes` (an image already in memory, e.g. an upload:
    // copied here, on the JS thread, so the worker never touches JS memory).
    const Napi::Value path_arg = o.Get("path");
    const Napi::Value bytes_arg = o.Get("bytes");
    require_arg(path_arg.IsString() != bytes_arg.IsTypedArray(),
                "exactly one of 'path' (a string) or 'bytes' (a Uint8Array)");
    require_arg(o.Get("shorter").IsNumber(), "'shorter' must be a number");
    const std::string path = path_arg.IsString() ? path_arg.As<Napi::String>().Utf8Value() : std::string();
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    if (bytes_arg.IsTypedArray()) {
      Napi::TypedArray t = bytes_arg.As<Napi::TypedArray>();
      require_arg(t.TypedArrayType() == napi_uint8_array, "'bytes' must be a Uint8Array");
      Napi::Uint8Array u = t.As<Napi::Uint8Array>();
      bytes->assign(u.Data(), u.Data() + u.ElementLength());
    }
    const bool from_bytes = bytes_arg.IsTypedArray();
    const int64_t shorter = o.Get("shorter").As<Napi::Number>().Int64Value();
    require_arg(shorter >= 1 && shorter <= 65535, "'shorter' must be 1..65535");
    // Optional `fill: true`: shorter x shorter with PIL's bicubic filter (VTAB-1k), not the shorter side.
    const Napi::Value fill_arg = o.Get("fill");
    require_arg(fill_arg.IsUndefined() || fill_arg.IsBoolean(), "'fill' must be a boolean");
    const JpegResize mode =
        fill_arg.IsBoolean() && fill_arg.As<Napi::Boolean>().Value() ? JpegResize::kFill : JpegResize::kShorterSide;
    // Optional `maxPixels`: the decompression-bomb limit (kDefaultMaxImagePixels when absent).
    const Napi::Value max_arg = o.Get("maxPixels");
    uint64_t max_pixels = kDefaultMaxImagePixels;
    if (!max_arg.IsUndefined()) {
      require_arg(max_arg.IsNumber(), "'maxPixels' must be a number");
      const double m = max_arg.As<Napi::Number>().DoubleValue();
      require_arg(m >= 1 && m <= 9007199254740991.0 && m == static_cast<double>(static_cast<uint64_t>(m)),
                  "'maxPixels' must be a positive integer");
      max_pixels = static_cast<uint64_t>(m);
    }
    auto result = std::make_shared<JpegDecodeResult>();
    return PromiseWorker::Run(
        env, {},
        [path, bytes, from_bytes, shorter, mode, max_pixels, result]() {
          *result = from_bytes ? decode_jpeg_bytes(std::move(*bytes), static_cast<int>(shorter), mode, max_pixels)
                               : decode_jpeg_file(path, static_cast<int>(shorter), mode, max_pixels);
        },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object out = Napi::Object::New(env);
          if (result->decoded) {
            out.Set("pixels", to_js(env, std::move(result->pixels)));
            out.Set("width", result->width);
            out.Set("height", result->height);
          } else {
            out.Set("file", to_js(env, std::move(result->file)));
            out.Set("declined", result->declined);
          }
          return out;
        });
  });
}

}  // namespace

void RegisterImageDecode(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpegFile", Napi::Function::New<DecodeJpegFile>(env, "decodeJpegFile"));
}

}  // namespace vpt

#else

namespace vpt {

void RegisterImageDecode(Napi::Env, Napi::Object) {}

}  // namespace vpt

#endif
