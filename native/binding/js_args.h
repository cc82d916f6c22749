// js_args.h — reading arguments that TypeScript already validated (lib/): a value of the wrong
// type here is a bug in vpt-native, reported as VPT_ARGUMENT naming the key.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/errors.h"

namespace vpt {

inline void require(bool ok, const std::string& what) {
  if (!ok) throw Error(kErrArgument, what);
}

inline int64_t int_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().Int64Value();
}

inline double number_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsNumber(), std::string("expected a number for '") + key + "'");
  return v.As<Napi::Number>().DoubleValue();
}

inline bool bool_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsBoolean(), std::string("expected a boolean for '") + key + "'");
  return v.As<Napi::Boolean>().Value();
}

inline std::string string_field(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  require(v.IsString(), std::string("expected a string for '") + key + "'");
  return v.As<Napi::String>().Utf8Value();
}

// A shape: an array of non-negative integers.
inline std::vector<int64_t> shape_of(const Napi::Value& v, const char* what) {
  require(v.IsArray(), std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<int64_t> shape;
  // numel_of() must not wrap to a length that matches a short array, nor the strides overflow.
  int64_t numel = 1, strided = 1;
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value d = a.Get(i);
    require(d.IsNumber(), std::string(what) + " must be an array of integers");
    const int64_t n = d.As<Napi::Number>().Int64Value();
    require(n >= 0, std::string(what) + " has a negative dimension");
    require(!__builtin_mul_overflow(numel, n, &numel) && !__builtin_mul_overflow(strided, n > 0 ? n : 1, &strided),
            std::string(what) + " has too many elements");
    shape.push_back(n);
  }
  return shape;
}

}  // namespace vpt
